import { describe, expect, it } from "vitest";

import { problemSentence } from "@/lib/problems";

describe("what the API says went wrong, as a sentence", () => {
  it("uses the API's detail, made a sentence", () => {
    expect(problemSentence({ detail: "the current password is not correct" }, 400)).toBe(
      "The current password is not correct.",
    );
  });

  it("names the fields of a validation error, never the JSON", () => {
    const sentence = problemSentence(
      {
        detail: "the request is not valid",
        errors: [{ loc: ["body", "password"], msg: "String should have at least 12 characters" }],
      },
      422,
    );
    expect(sentence).toBe("The password should have at least 12 characters.");
  });

  it("never shows a server's own words for its failures", () => {
    expect(problemSentence({ detail: "Traceback (most recent call last)" }, 500)).toBe(
      "Something went wrong on our side. Please try again in a moment.",
    );
    expect(problemSentence(undefined, 503)).toMatch(/not available/);
  });
});
