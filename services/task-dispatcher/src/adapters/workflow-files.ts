// Workflow files on disk: every *.yaml / *.yml of a directory, validated
// together, with the golden JSON files they reference loaded once.
import { readFileSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { goldenRunsOf } from '../domain/run-filter.ts'
import { validateWorkflowSet, type Env, type Workflow, type WorkflowSource } from '../domain/workflow.ts'

export interface LoadedWorkflows {
  workflows: Workflow[]
  errors: string[]
  /** Certified runs per golden JSON path. */
  golden: Map<string, Set<number>>
  dir: string
}

/**
 * Reads the workflow sources of a directory (or of one file).
 * Throws an Error naming the path when it does not exist, is neither a file nor a directory, or cannot be read.
 */
export function readWorkflowSources (path: string): WorkflowSource[] {
  const abs = resolve(path)
  let stat: Stats
  try {
    stat = statSync(abs)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new Error(code === 'ENOENT' ? `${path}: no such workflow file or directory` : `${path}: cannot be read (${code ?? 'error'})`)
  }
  if (!stat.isDirectory() && !stat.isFile()) throw new Error(`${path}: not a workflow file or directory`)
  const files = stat.isDirectory()
    ? readdirSync(abs).filter(f => /\.ya?ml$/.test(f)).sort().map(f => join(abs, f))
    : [abs]
  if (stat.isDirectory()) {
    const problems = files.flatMap(f => { const p = entryProblem(f, realpathSync(abs)); return p === undefined ? [] : [p] })
    if (problems.length > 0) throw new Error(problems.join('\n'))
  }
  return files.map(f => ({ name: f, content: readFileSync(f, 'utf8'), dir: resolve(f, '..') }))
}

/**
 * What keeps a `*.yaml` entry of a workflow directory from being read, or undefined: it must be a regular file
 * (a directory, a named pipe — which would block the reading process for ever — or a device is refused) and,
 * when it is a symbolic link, lead to a file inside the directory (a link to /etc/shadow would print that file's
 * lines as YAML errors). Found by a reviewer, 2026-11-30.
 */
function entryProblem (file: string, realDir: string): string | undefined {
  const name = basename(file)
  let target: string
  try {
    target = realpathSync(file)
  } catch {
    return `${name}: a symbolic link to nothing: not a workflow file`
  }
  if (!target.startsWith(`${realDir}/`)) return `${name}: a symbolic link out of the workflow directory is not read`
  let st: Stats
  try {
    st = statSync(target)
  } catch (err) {
    return `${name}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`
  }
  if (!st.isFile()) return `${name}: not a regular file (${st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a named pipe' : 'a special file'} named .yaml is not read)`
  return undefined
}

/** The directories besides the workflow directory a golden JSON may lie in: the real-data directory, when `env` names one. */
export function goldenRootsOf (env: Env): string[] {
  const dir = env.AUTOCAL_REALDATA_DIR
  return dir === undefined || dir === '' ? [] : [resolve(dir)]
}

/**
 * Validates sources, loading the golden JSON files they name (errors name the file and line that referenced them,
 * never the file's content). `env` is what `${VAR}` expands from (allow-listed names only); `goldenRoots` are the
 * directories a golden JSON may lie in besides the workflow's own (default: {@link goldenRootsOf} `env`).
 * `readFiles: false` (remote validation of a caller's YAML) touches no file of the server: golden paths are
 * checked for confinement as written, never resolved, opened or stat'ed, so no answer tells the caller what
 * the server's files are (the golden files are read when the dispatcher loads the workflow).
 */
export function validateSources (sources: WorkflowSource[], env: Env, dir = '', goldenRoots: readonly string[] = goldenRootsOf(env), options: { readFiles?: boolean } = {}): LoadedWorkflows {
  const golden = new Map<string, Set<number>>()
  const problems = new Map<string, string | undefined>()
  const readFiles = options.readFiles !== false
  const checkGolden = (path: string): string | undefined => {
    if (!readFiles) return undefined
    if (problems.has(path)) return problems.get(path)
    let problem: string | undefined
    // The messages name the path and the kind of fault only: JSON.parse and the run checks quote the content.
    let text: string | undefined
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      problem = `cannot read golden JSON ${path} (${(err as NodeJS.ErrnoException).code ?? 'read error'})`
    }
    if (text !== undefined) {
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        problem = `golden JSON ${path} is not valid JSON`
      }
      if (problem === undefined) {
        const runs = goldenRunsOf(json)
        if (typeof runs === 'string') problem = `golden JSON ${path} is not a certification file (expected {"<run>": [[first_ls, last_ls], ...]})`
        else golden.set(path, runs)
      }
    }
    problems.set(path, problem)
    return problem
  }
  const realPath = (path: string): string => {
    if (!readFiles) return path
    try {
      return realpathSync(path)
    } catch {
      return path // does not exist (yet): reading it fails with ENOENT
    }
  }
  const scriptExists = (path: string): boolean => {
    try {
      return statSync(path).isFile()
    } catch {
      return false
    }
  }
  const { workflows, errors } = validateWorkflowSet(sources, env, readFiles ? { checkGolden, goldenRoots, realPath, scriptExists } : { checkGolden, goldenRoots, realPath })
  return { workflows, errors, golden, dir }
}

/** Loads and validates a workflow directory. File names in errors are shown relative to it. */
export function loadWorkflows (dir: string, env: Env = process.env): LoadedWorkflows {
  const sources = readWorkflowSources(dir).map(s => ({ ...s, name: statSync(resolve(dir)).isDirectory() ? basename(s.name) : s.name }))
  if (sources.length === 0) return { workflows: [], errors: [`${dir}: no workflow files (*.yaml) found`], golden: new Map(), dir: resolve(dir) }
  return validateSources(sources, env, resolve(dir))
}
