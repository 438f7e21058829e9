// The dashboard server's settings, from the environment, each with a working default. The
// session secret's development default is refused anywhere but in development. Server code only
// (the middleware reads it too, which is why it is not marked "server-only").
export const DEV_SESSION_SECRET = "flux-dashboard-development-session-secret-not-for-production";

export type Environment = "development" | "test" | "production";

export interface WebConfig {
  apiUrl: string;
  environment: Environment;
  sessionSecret: string;
  secureCookies: boolean;
}

export function readConfig(env: Record<string, string | undefined> = process.env): WebConfig {
  const environment = (env.FLUX_ENVIRONMENT ?? "development") as Environment;
  if (!["development", "test", "production"].includes(environment)) {
    throw new Error(`FLUX_ENVIRONMENT must be development, test or production, not ${environment}`);
  }
  const sessionSecret = env.FLUX_WEB_SESSION_SECRET ?? DEV_SESSION_SECRET;
  if (sessionSecret.length < 32) {
    throw new Error("FLUX_WEB_SESSION_SECRET must have at least 32 characters");
  }
  if (environment !== "development" && sessionSecret === DEV_SESSION_SECRET) {
    throw new Error(
      `FLUX_WEB_SESSION_SECRET must be set to a secret of your own when FLUX_ENVIRONMENT=${environment}`,
    );
  }
  return {
    apiUrl: (env.FLUX_API_URL ?? "http://127.0.0.1:8000").replace(/\/+$/, ""),
    environment,
    sessionSecret,
    // Secure outside development: the cookie then travels over HTTPS only (and localhost).
    secureCookies: environment !== "development",
  };
}

let cached: WebConfig | undefined;

export function config(): WebConfig {
  cached ??= readConfig();
  return cached;
}
