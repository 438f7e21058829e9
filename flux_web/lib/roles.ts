// Who may open which page: the API's permission table (flux_api/permissions.py), as the
// dashboard's navigation and its middleware need it. The API enforces it again on every call.

export type Role = "owner" | "manager" | "chef";

export interface PageAccess {
  href: string;
  label: string;
  roles: readonly Role[];
}

const EVERYONE: readonly Role[] = ["owner", "manager", "chef"];
const STAFF: readonly Role[] = ["owner", "manager"];

export const PAGES: readonly PageAccess[] = [
  { href: "/", label: "Forecasts", roles: EVERYONE },
  { href: "/calendar", label: "Calendar", roles: STAFF },
  { href: "/uploads", label: "Uploads", roles: STAFF },
  { href: "/models", label: "Models", roles: STAFF },
  { href: "/team", label: "Team", roles: ["owner"] },
  { href: "/account", label: "Account", roles: EVERYONE },
];

export function pageFor(pathname: string): PageAccess | undefined {
  return PAGES.filter((page) =>
    page.href === "/"
      ? pathname === "/"
      : pathname === page.href || pathname.startsWith(`${page.href}/`),
  ).at(0);
}

export function mayOpen(role: Role, pathname: string): boolean {
  const page = pageFor(pathname);
  return page === undefined || page.roles.includes(role);
}

export function navigationFor(role: Role): PageAccess[] {
  return PAGES.filter((page) => page.roles.includes(role));
}

export function seesActuals(role: Role): boolean {
  return STAFF.includes(role);
}
