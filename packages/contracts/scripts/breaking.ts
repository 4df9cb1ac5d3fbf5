// `buf breaking` of the working tree's contracts against the main branch
// (AUTOCAL_BUF_AGAINST overrides the git reference). Exits non-zero on a
// breaking change; says so plainly when main has no contracts yet.
import { execFileSync, spawnSync } from 'node:child_process'

const ref = process.env.AUTOCAL_BUF_AGAINST ?? 'main'
const top = execFileSync('git', ['rev-parse', '--show-toplevel'], { encoding: 'utf8' }).trim()
const probe = spawnSync('git', ['-C', top, 'cat-file', '-e', `${ref}:packages/contracts/buf.yaml`])
if (probe.status !== 0) {
  console.log(`buf breaking: ${ref} has no packages/contracts yet, nothing to compare against`)
  process.exit(0)
}
const against = `${top}/.git#ref=${ref},subdir=packages/contracts`
const result = spawnSync('buf', ['breaking', '--against', against], { stdio: 'inherit' })
if (result.status === 0) console.log(`buf breaking: no breaking change against ${ref}`)
process.exit(result.status ?? 1)
