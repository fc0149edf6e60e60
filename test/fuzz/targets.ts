/**
 * Every fuzz target, built from the valid samples. See target.ts for what a target checks.
 */
import type { FuzzContext, Samples } from './samples.ts'
import { TARGET_NAMES, type Target } from './target.ts'
import { binaryTargets } from './targets-binary.ts'
import { textTargets } from './targets-text.ts'

/** The targets named (all when `names` is absent), in TARGET_NAMES order. */
export function createTargets(samples: Samples, ctx: FuzzContext, names?: readonly string[]): Target[] {
  const all = [...textTargets(samples, ctx), ...binaryTargets(samples, ctx)]
  const chosen: Target[] = []
  for (const t of all) {
    if (names === undefined || names.includes(t.name)) chosen.push(t)
    else t.dispose?.()
  }
  const order = TARGET_NAMES as readonly string[]
  return chosen.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
}
