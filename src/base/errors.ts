/**
 * The one error shape of the project: a stable, kebab-case `code` a caller can
 * branch on (and a user-facing `message`), plus the standard `cause`. Each
 * module names its codes (a union type or a const table) and throws
 * `CodedError` or a subclass that adds fields of its own.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** The `code` of any thrown value that has one (errors from Node, ws, libraries, ours). */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' ? code : undefined
}
