import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface PackedPackage {
  /** The .tgz that `pnpm publish` would upload. */
  tarball: string
  /** Where it was unpacked: the tarball's `package/` folder. */
  dir: string
  /** Size of the .tgz, in bytes. */
  packedBytes: number
  /** Removes the tarball and the unpacked copy. */
  remove(): Promise<void>
}

/**
 * Packs `packageDir` with `pnpm pack`, which applies `publishConfig` overrides and replaces
 * `workspace:`/`catalog:` ranges the way `pnpm publish` does (`npm pack` would do neither), and
 * unpacks the result into a temporary folder.
 */
export async function packPackage(packageDir: string): Promise<PackedPackage> {
  const work = await mkdtemp(path.join(tmpdir(), 'fastkey-pack-'))
  const remove = () => rm(work, { recursive: true, force: true })
  try {
    await run('pnpm', ['pack', '--pack-destination', work], { cwd: packageDir, maxBuffer: 16 << 20 })
    const tarballs = (await readdir(work)).filter((name) => name.endsWith('.tgz'))
    if (tarballs.length !== 1) throw new Error(`pnpm pack left ${tarballs.length} tarballs in ${work}`)
    const tarball = path.join(work, tarballs[0]!)
    await run('tar', ['xzf', tarball, '-C', work])
    return { tarball, dir: path.join(work, 'package'), packedBytes: (await stat(tarball)).size, remove }
  } catch (error) {
    await remove()
    throw error
  }
}
