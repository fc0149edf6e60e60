/**
 * What a fuzz target is, and the contract helpers the targets share.
 *
 * A target wraps one decoder at a trust boundary. `run` feeds it one input and checks its
 * contract: the decoder returns (never throws, unless its documented contract is a typed
 * error), its answer is one of the shapes it promises (a stable reason code, a well-formed
 * message), and what it accepted survives a re-encode. A broken contract is a `ContractError`;
 * anything else thrown out of `run` is a crash of the decoder.
 */
import type fc from 'fast-check'

export type Input = Uint8Array | string

export class ContractError extends Error {
  override name = 'ContractError'
}

export function must(ok: boolean, message: string): asserts ok {
  if (!ok) throw new ContractError(message)
}

/** Reasons are stable kebab-case codes (metric labels); `known`, when given, is the published list. */
export function mustBeReason(reason: unknown, known?: readonly string[]): void {
  must(typeof reason === 'string' && /^[a-z][a-z0-9:-]*$/.test(reason), `reason ${JSON.stringify(reason)} is not a kebab-case code`)
  if (known) must(known.includes(reason), `reason "${reason}" is not in the published list`)
}

interface TargetBase<T extends Input> {
  name: string
  /** Longest input the mutator makes (a little over the decoder's own cap, so the cap is exercised). */
  maxLen: number
  seeds: T[]
  /** Extra tokens for the string mutator. */
  tokens?: string[]
  arbitrary: fc.Arbitrary<T>
  /** Frees timers and state (awareness instances run an interval). */
  dispose?(): void
}

export type Target =
  | (TargetBase<Uint8Array> & { kind: 'bytes'; async?: false; run(input: Uint8Array): void })
  | (TargetBase<string> & { kind: 'string'; async?: false; run(input: string): void })
  | (TargetBase<string> & { kind: 'string'; async: true; run(input: string): Promise<void> })

/** Every target, in the order a run visits them. */
export const TARGET_NAMES = ['signal', 'relay', 'mesh-wire', 'invite', 'sync', 'awareness', 'guard', 'relay-gate', 'peer-link', 'entry', 'wav'] as const
export type TargetName = (typeof TARGET_NAMES)[number]
