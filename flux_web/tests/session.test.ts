import { describe, expect, it } from "vitest";

import { safeNext, seal, unseal, isLive, type Session } from "@/lib/session-core";

const SECRET = "a-test-secret-that-is-long-enough-for-iron-session";
const session: Session = {
  token: "header.payload.signature",
  expiresAt: Date.now() + 60_000,
  userId: "u",
  tenantId: "t",
  email: "chef@example.com",
  role: "chef",
  csrf: "csrf-token",
};

describe("the sealed session", () => {
  it("opens with its secret and with no other", async () => {
    const sealed = await seal(session, SECRET);
    expect(sealed).not.toContain("header.payload");
    expect(await unseal(sealed, SECRET)).toEqual(session);
    expect(await unseal(sealed, `${SECRET}-other`)).toBeNull();
    expect(await unseal(`${sealed.slice(0, -4)}AAAA`, SECRET)).toBeNull();
  });

  it("is over when its token is", () => {
    expect(isLive(session)).toBe(true);
    expect(isLive({ ...session, expiresAt: Date.now() - 1 })).toBe(false);
    expect(isLive(null)).toBe(false);
  });
});

describe("where to go after signing in", () => {
  it("is a path of this site only", () => {
    expect(safeNext("/uploads?page=2")).toBe("/uploads?page=2");
    for (const evil of ["//evil.example", "https://evil.example", "/\\evil.example", "", null]) {
      expect(safeNext(evil)).toBe("/");
    }
  });
});
