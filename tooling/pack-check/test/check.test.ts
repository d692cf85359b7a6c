import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, onTestFinished, test } from 'vitest'
import { checkPackedPackage, packPackage } from '../src/index.js'

type Files = Record<string, string | object>

/** A package folder with `files` written into it, removed when the test ends. */
async function packageDir(files: Files): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pack-check-test-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true })
    await writeFile(
      path.join(dir, name),
      typeof content === 'string' ? content : JSON.stringify(content, null, 2),
    )
  }
  return dir
}

const manifest = {
  name: 'example',
  version: '1.0.0',
  type: 'module',
  files: ['dist'],
  exports: {
    '.': { types: './dist/index.d.ts', default: './dist/index.js' },
    './package.json': './package.json',
  },
  main: './dist/index.js',
  types: './dist/index.d.ts',
  dependencies: { 'fastify-plugin': '^5.0.1' },
}

/** What a consistent tarball holds: the manifest, a README with absolute links, dist without maps. */
const good: Files = {
  'package.json': manifest,
  'README.md':
    '# example\n\nSee [the design](https://github.com/o/r/blob/main/DESIGN.md) and [options](#options).\n\n' +
    '```md\n[inside a code block](../ignored.md)\n```\n',
  'dist/index.js': "export { plugin } from './plugin.js'\nimport './side-effect.js'\n",
  'dist/plugin.js': 'export const plugin = () => import("./lazy.js")\n',
  'dist/side-effect.js': '',
  'dist/lazy.js': '',
  'dist/index.d.ts': "export { plugin } from './plugin.js'\n",
  'dist/plugin.d.ts': 'export declare const plugin: () => Promise<unknown>\n',
}

describe('checkPackedPackage', () => {
  test('a consistent package has no problems', async () => {
    expect(await checkPackedPackage(await packageDir(good))).toEqual([])
  })

  test('an export condition pointing at unshipped sources is reported', async () => {
    const exports = {
      '.': { '@fastkey/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' },
    }
    const problems = await checkPackedPackage(
      await packageDir({ ...good, 'package.json': { ...manifest, exports } }),
    )
    expect(problems).toEqual([
      'package.json exports["."]["@fastkey/source"] points at ./src/index.ts, which is not in the tarball',
    ])
  })

  test('main, types and bin pointing at missing files are reported', async () => {
    const problems = await checkPackedPackage(
      await packageDir({
        ...good,
        'package.json': {
          ...manifest,
          main: './dist/main.js',
          types: './index.d.ts',
          bin: { x: 'bin/x.js' },
        },
      }),
    )
    expect(problems).toHaveLength(3)
    expect(problems.join('\n')).toMatch(/main points at \.\/dist\/main\.js/)
    expect(problems.join('\n')).toMatch(/types points at \.\/index\.d\.ts/)
    expect(problems.join('\n')).toMatch(/bin\["x"\] points at bin\/x\.js/)
  })

  test('a files entry that matched nothing is reported', async () => {
    const problems = await checkPackedPackage(
      await packageDir({ ...good, 'package.json': { ...manifest, files: ['dist', 'dashboards/*.json'] } }),
    )
    expect(problems).toEqual([
      'package.json files lists dashboards/*.json, but the tarball has nothing under it',
    ])
  })

  test('a files pattern that matched a file passes', async () => {
    const dir = await packageDir({
      ...good,
      'package.json': { ...manifest, files: ['dist', 'dashboards/*.json'] },
      'dashboards/cache.json': {},
    })
    expect(await checkPackedPackage(dir)).toEqual([])
  })

  test('source maps and map comments that point at unshipped files are reported', async () => {
    const problems = await checkPackedPackage(
      await packageDir({
        ...good,
        'dist/index.js': `${good['dist/index.js']}//# sourceMappingURL=index.js.map\n`,
        'dist/index.js.map': { version: 3, sources: ['../src/index.ts'], mappings: '' },
        'dist/plugin.d.ts': `${good['dist/plugin.d.ts']}//# sourceMappingURL=plugin.d.ts.map\n`,
      }),
    )
    expect(problems).toEqual([
      'dist/index.js.map maps to source ../src/index.ts, which is not in the tarball',
      'dist/plugin.d.ts names the source map plugin.d.ts.map, which is not in the tarball',
    ])
  })

  test('a map whose sources are shipped, or embedded, passes', async () => {
    const dir = await packageDir({
      ...good,
      'package.json': { ...manifest, files: ['dist', 'src'] },
      'src/index.ts': '',
      'dist/index.js.map': { version: 3, sources: ['../src/index.ts'], mappings: '' },
      'dist/plugin.js.map': {
        version: 3,
        sources: ['../src/plugin.ts'],
        sourcesContent: ['x'],
        mappings: '',
      },
    })
    expect(await checkPackedPackage(dir)).toEqual([])
  })

  test('an import of a file that is not shipped is reported, in code and in declarations', async () => {
    const problems = await checkPackedPackage(
      await packageDir({
        ...good,
        'dist/index.js': "export { plugin } from './plugin.js'\nexport * from './gone.js'\n",
        'dist/index.d.ts':
          "export { plugin } from './plugin.js'\nexport type X = import('../src/types.js').X\n",
      }),
    )
    expect(problems).toEqual([
      'dist/index.d.ts imports ../src/types.js, which is not in the tarball',
      'dist/index.js imports ./gone.js, which is not in the tarball',
    ])
  })

  test('relative README links and images are reported; absolute links and anchors are not', async () => {
    const problems = await checkPackedPackage(
      await packageDir({
        ...good,
        'README.md':
          '[sibling](../fastify-cache/README.md), ![chart](docs/chart.png "Chart"), ' +
          '<img src="./logo.svg">, [ok](https://example.com), [anchor](#install), [mail](mailto:a@b.c)\n',
      }),
    )
    expect(problems).toEqual([
      'README.md links to ../fastify-cache/README.md, a relative link that does not resolve on npm',
      'README.md links to docs/chart.png, a relative link that does not resolve on npm',
      'README.md links to ./logo.svg, a relative link that does not resolve on npm',
    ])
  })

  test('workspace: and catalog: ranges left in the manifest are reported', async () => {
    const problems = await checkPackedPackage(
      await packageDir({
        ...good,
        'package.json': {
          ...manifest,
          dependencies: { a: 'workspace:^' },
          peerDependencies: { b: 'catalog:' },
        },
      }),
    )
    expect(problems).toHaveLength(2)
  })
})

describe('packPackage', () => {
  test('packs with pnpm (publishConfig applied) and unpacks; the check then sees the published manifest', async () => {
    const dir = await packageDir({
      ...good,
      'package.json': {
        ...manifest,
        exports: { '.': { '@fastkey/source': './src/index.ts', default: './dist/index.js' } },
        publishConfig: { exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } } },
      },
      'src/index.ts': '',
    })
    const packed = await packPackage(dir)
    onTestFinished(() => packed.remove())
    expect(packed.packedBytes).toBeGreaterThan(0)
    expect(await checkPackedPackage(packed.dir)).toEqual([])

    // Without the publishConfig override the condition reaches the tarball, and src/ does not.
    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ ...manifest, exports: { '.': { '@fastkey/source': './src/index.ts' } } }),
    )
    const unfixed = await packPackage(dir)
    onTestFinished(() => unfixed.remove())
    expect(await checkPackedPackage(unfixed.dir)).toEqual([
      'package.json exports["."]["@fastkey/source"] points at ./src/index.ts, which is not in the tarball',
    ])
  })
})
