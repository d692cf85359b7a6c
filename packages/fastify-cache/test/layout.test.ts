import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import * as extension from '../src/extension/index.js'
import * as root from '../src/index.js'

// The shape the redesign promised (issue 11), checked so it cannot drift back: small files, small
// functions, a root entry that is the user API only.
const SRC = join(import.meta.dirname, '../src')
const MAX_FILE_LINES = 350
const MAX_FUNCTION_LINES = 80
const MAX_ROOT_EXPORTS = 30

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

function functionLengths(file: string): Array<{ name: string; lines: number }> {
  const text = readFileSync(file, 'utf8')
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: Array<{ name: string; lines: number }> = []
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line
      const name = 'name' in node && node.name ? node.name.getText() : '(anonymous)'
      found.push({ name: `${relative(SRC, file)}:${start + 1} ${name}`, lines: end - start + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** Names a module exports, types included (read from its source: types leave no runtime trace). */
function exportedNames(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const names: string[] = []
  for (const statement of source.statements) {
    if (
      ts.isExportDeclaration(statement) &&
      statement.exportClause &&
      ts.isNamedExports(statement.exportClause)
    )
      for (const element of statement.exportClause.elements) names.push(element.name.text)
  }
  return names
}

describe('package layout', () => {
  it(`no source file over ${MAX_FILE_LINES} lines`, () => {
    const long = sources(SRC)
      .map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_FILE_LINES)
    expect(long).toEqual([])
  })

  it(`no function over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = sources(SRC)
      .flatMap(functionLengths)
      .filter((f) => f.lines > MAX_FUNCTION_LINES)
    expect(long).toEqual([])
  })

  it(`the root entry exports the user API only, at most ${MAX_ROOT_EXPORTS} names`, () => {
    const names = exportedNames(join(SRC, 'index.ts'))
    expect(names.length).toBeLessThanOrEqual(MAX_ROOT_EXPORTS)
    for (const internal of ['TickBatch', 'withDeadline', 'encodeEntry', 'BUS_CONFIRM_MS', 'joinKeyParts'])
      expect(names).not.toContain(internal)
    expect(Object.keys(root).sort()).toEqual(
      [
        'Cache',
        'KeydbStore',
        'MemoryStore',
        'cached',
        'default',
        'errors',
        'fastifyCache',
        'jsonSerializer',
      ].sort(),
    )
    // What extensions need is on their entry.
    for (const name of ['TickBatch', 'withDeadline', 'encodeEntry', 'defineScripts', 'BackgroundTasks'])
      expect(extension).toHaveProperty(name)
  })
})
