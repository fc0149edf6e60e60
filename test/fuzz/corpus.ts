/**
 * Corpus files: test/fuzz/corpus/<target>/. A binary input is a `.bin` file of its bytes; a text
 * input is a `.json` file holding one JSON string (so lone surrogates and control characters
 * survive) or a plain UTF-8 `.txt`. Saved failures are named by kind and content hash, so the
 * same input is saved once.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Input } from './target.ts'

export const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url))

export function loadCorpus(dir: string, target: string, kind: 'bytes' | 'string'): Input[] {
  const folder = join(dir, target)
  if (!existsSync(folder)) return []
  const out: Input[] = []
  for (const name of readdirSync(folder).sort()) {
    const file = join(folder, name)
    if (kind === 'bytes' && name.endsWith('.bin')) out.push(new Uint8Array(readFileSync(file)))
    else if (kind === 'string' && name.endsWith('.txt')) out.push(readFileSync(file, 'utf8'))
    else if (kind === 'string' && name.endsWith('.json')) {
      const v: unknown = JSON.parse(readFileSync(file, 'utf8'))
      if (typeof v === 'string') out.push(v)
    }
  }
  return out
}

/** Writes `input` under the target's folder (once per content); returns the path. */
export function saveInput(dir: string, target: string, label: string, input: Input): string {
  const body = typeof input === 'string' ? JSON.stringify(input) : input
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16)
  const folder = join(dir, target)
  mkdirSync(folder, { recursive: true })
  // A failing corpus element (one named by hand, say) fails again: it is not saved twice.
  const same = readdirSync(folder).find((name) => readFileSync(join(folder, name)).equals(Buffer.from(body)))
  if (same !== undefined) return join(folder, same)
  const file = join(folder, `${label}-${hash}.${typeof input === 'string' ? 'json' : 'bin'}`)
  if (!existsSync(file)) writeFileSync(file, body)
  return file
}
