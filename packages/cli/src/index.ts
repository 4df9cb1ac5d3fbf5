// Public surface of @autocal/cli.
export { runCli, errorLine } from './cli.ts'
export type { Io } from './cli.ts'
export { renderMatrix } from './status-matrix.ts'
