// The CLI's config file: where the control API, its CA, the token and the
// other HTTP APIs are, written once instead of on every command.
// `$AUTOCAL_CONFIG`, else `$XDG_CONFIG_HOME/autocal/config.json`, else
// `~/.config/autocal/config.json`. Flags win over the environment, the
// environment over the file.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { z } from 'zod'

const CliConfig = z.strictObject({
  server: z.string().min(1).optional(),
  ca: z.string().min(1).optional(),
  tokenFile: z.string().min(1).optional(),
  readTokenFile: z.string().min(1).optional(),
  uploader: z.url().optional(),
  executor: z.url().optional()
})
export type CliConfig = z.infer<typeof CliConfig>

/** The environment variable each config key stands in for. */
const envOf = {
  server: 'AUTOCAL_CONTROL_URL',
  ca: 'AUTOCAL_CA_FILE',
  tokenFile: 'AUTOCAL_TOKEN_FILE',
  readTokenFile: 'AUTOCAL_READ_TOKEN_FILE',
  uploader: 'AUTOCAL_UPLOADER_URL',
  executor: 'AUTOCAL_EXECUTOR_URL'
} as const satisfies Record<keyof CliConfig, string>

const files = new Set<keyof CliConfig>(['ca', 'tokenFile', 'readTokenFile'])

/** A config file that cannot be used: names the file and the key. */
export class CliConfigError extends Error {}

/** Path of the config file for `env`; `explicit` = named by AUTOCAL_CONFIG (then it must exist). */
export function configPath (env: Record<string, string | undefined>, home = homedir()): { path: string, explicit: boolean } {
  if (env.AUTOCAL_CONFIG !== undefined && env.AUTOCAL_CONFIG !== '') return { path: env.AUTOCAL_CONFIG, explicit: true }
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(home, '.config')
  return { path: join(base, 'autocal', 'config.json'), explicit: false }
}

/**
 * Parses a config file's text: a JSON object with the keys `server`
 * (`host:port`, `grpcs://host:port`), `ca`, `tokenFile`, `readTokenFile`
 * (paths; relative ones from the file's directory, `~/` from the home) and
 * `uploader`, `executor` (http(s) URLs). Throws CliConfigError naming the
 * file and every bad or unknown key.
 */
export function parseCliConfig (text: string, path: string, home = homedir()): CliConfig {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new CliConfigError(`config file ${path}: not JSON (${(err as Error).message})`)
  }
  const parsed = CliConfig.safeParse(json)
  if (!parsed.success) {
    const problems = parsed.error.issues.map(i => {
      const keys = i.code === 'unrecognized_keys' ? i.keys : [i.path.join('.')]
      return `${keys.map(k => k === '' ? '(top level)' : `key '${k}'`).join(', ')}: ${i.code === 'unrecognized_keys' ? `unknown (known: ${Object.keys(envOf).join(', ')})` : i.message}`
    })
    throw new CliConfigError(`config file ${path}: ${problems.join('; ')}`)
  }
  const config: CliConfig = { ...parsed.data }
  for (const key of files) {
    const p = config[key]
    if (p === undefined) continue
    config[key] = p.startsWith('~/') ? join(home, p.slice(2)) : isAbsolute(p) ? p : resolve(dirname(path), p)
  }
  return config
}

/**
 * The environment the CLI runs with: `env`, with each variable it leaves
 * unset (or empty) taken from the config file. A token given in
 * AUTOCAL_TOKEN keeps the file's tokenFile out. A missing file is no config,
 * unless AUTOCAL_CONFIG names it; an unreadable or bad one is a CliConfigError.
 */
export function withConfig (env: Record<string, string | undefined>, home = homedir()): Record<string, string | undefined> {
  const { path, explicit } = configPath(env, home)
  if (!explicit && !existsSync(path)) return env
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new CliConfigError(`config file ${path}${explicit ? ' (AUTOCAL_CONFIG)' : ''}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  const config = parseCliConfig(text, path, home)
  const out = { ...env }
  for (const [key, name] of Object.entries(envOf) as Array<[keyof CliConfig, string]>) {
    const value = config[key]
    if (value === undefined || (out[name] !== undefined && out[name] !== '')) continue
    if (key === 'tokenFile' && out.AUTOCAL_TOKEN !== undefined && out.AUTOCAL_TOKEN !== '') continue
    out[name] = value
  }
  return out
}
