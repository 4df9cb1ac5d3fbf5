// The unprivileged user local jobs run as. An executor (or agent) that runs as
// root starts every local job as this user (spawn with uid/gid, supplementary
// groups dropped), so that a job cannot read the service's environment
// (/proc/<pid>/environ is readable only by its own user), write the CondDB or
// the executor's state, or touch anything outside its output directory, which
// alone is made writable for it.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve, sep } from 'node:path'
import { AutocalError } from '@autocal/runtime'

export interface JobUser {
  uid: number
  gid: number
  /** As configured (a name, or uid[:gid]). */
  name: string
}

/** uid and gid of the conventional `nobody` when the system does not know it. */
const nobody = 65534

const configError = (message: string): AutocalError => new AutocalError('AUTOCAL_CONFIG_INVALID', message, { retryable: false })

function lookUp (name: string): { uid: number, gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined
  } catch {
    return undefined
  }
}

/**
 * The user local jobs run as, from the setting `key` (a user name, a uid, or
 * uid:gid): undefined when jobs run as this process's own user (it is not
 * root and nothing else is configured). A root process runs jobs as `nobody`
 * (65534) unless told otherwise; root itself is refused as a job user, and a
 * process that is not root cannot switch to another user (AUTOCAL_CONFIG_INVALID,
 * naming the key).
 */
export function resolveJobUser (setting: string | undefined, key: string, ownUid: number = process.getuid?.() ?? -1): JobUser | undefined {
  const root = ownUid === 0
  if (setting === undefined) {
    if (!root) return undefined
    setting = 'nobody'
  }
  const numeric = /^(\d+)(?::(\d+))?$/.exec(setting)
  const ids = numeric !== null
    ? { uid: Number(numeric[1]), gid: Number(numeric[2] ?? numeric[1]) }
    : lookUp(setting) ?? (setting === 'nobody' ? { uid: nobody, gid: nobody } : undefined)
  if (ids === undefined) throw configError(`${key}=${setting}: no such user`)
  if (ids.uid === 0 || ids.gid === 0) throw configError(`${key}=${setting}: jobs never run as root (uid or gid 0)`)
  if (!root) {
    if (ids.uid === ownUid) return undefined
    throw configError(`${key}=${setting}: running jobs as another user needs this process to run as root`)
  }
  return { ...ids, name: setting }
}

const searchable = (path: string, user: JobUser): { ok: boolean, mode: number } => {
  const s = statSync(path)
  const mode = s.mode & 0o777
  const bit = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001
  return { ok: (mode & bit) !== 0, mode }
}

/**
 * Makes sure the job user can reach `dirs` (created when missing): every
 * directory from `ownTree` down (the executor's data directory, which it owns)
 * gets the others' search bit (x, not r: names cannot be listed) where it
 * lacks it; a directory above `ownTree` that the user cannot search is a
 * start-up error naming it.
 */
export function prepareJobTree (user: JobUser, ownTree: string, dirs: string[]): void {
  const own = resolve(ownTree)
  for (const d of dirs) {
    const dir = resolve(d)
    mkdirSync(dir, { recursive: true })
    const chain: string[] = []
    for (let p = dir; ; p = dirname(p)) {
      chain.unshift(p)
      if (dirname(p) === p) break
    }
    for (const p of chain) {
      const { ok, mode } = searchable(p, user)
      if (ok) continue
      if (p === own || p.startsWith(own + sep)) chmodSync(p, mode | 0o001)
      else throw configError(`the job user ${user.name} (uid ${user.uid}) cannot reach ${dir}: ${p} is not searchable for it (mode ${mode.toString(8).padStart(4, '0')})`)
    }
  }
}
