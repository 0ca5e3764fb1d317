/**
 * A request refused for a reason its caller can act on: the status it is answered with and, where
 * the kind has a name of its own, a code for programs. Every domain's refusals extend it, so the
 * API answers all of them in one place (api/http-error.ts) and no route catches them.
 */
export class Refusal<Status extends number = number> extends Error {
  constructor(
    message: string,
    readonly status: Status,
    readonly code?: string,
    /** What the answer carries in its headers: when to try again (Retry-After), how to sign in (WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
    /** Fields of the answer beside `error` and `message` (a bad request's `problems`). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Every problem of a failed parse, named by where it is: "query.from: …" (or "from: …" without `where`). */
export const problems = (error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }, where?: string) =>
  error.issues.map((issue) => `${[...(where ? [where] : []), ...issue.path.map(String)].join('.')}: ${issue.message}`);
