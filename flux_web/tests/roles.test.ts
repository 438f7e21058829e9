import { describe, expect, it } from "vitest";

import { mayOpen, navigationFor } from "@/lib/roles";

describe("each role sees only what it may do", () => {
  it("shows a chef the forecasts and their account only", () => {
    expect(navigationFor("chef").map((p) => p.label)).toEqual(["Forecasts", "Account"]);
    expect(navigationFor("manager").map((p) => p.label)).toEqual([
      "Forecasts",
      "Calendar",
      "Uploads",
      "Models",
      "Account",
    ]);
    expect(navigationFor("owner").map((p) => p.label)).toContain("Team");
  });

  it("keeps a chef out of uploads and the team, with or without a trailing path", () => {
    for (const path of ["/uploads", "/uploads/0b8f", "/team", "/models"]) {
      expect(mayOpen("chef", path)).toBe(false);
    }
    expect(mayOpen("chef", "/")).toBe(true);
    expect(mayOpen("manager", "/team")).toBe(false);
    expect(mayOpen("owner", "/team")).toBe(true);
    expect(mayOpen("chef", "/uploadsX")).toBe(true); // not the uploads page
  });
});
