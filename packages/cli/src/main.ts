#!/usr/bin/env node
// The `autocal` command. See `autocal --help` and packages/cli/README.md.
import { runCli } from './cli.ts'

// grpc-js names the TLS server by its address, and Node warns (DEP0123) on every call to a server
// given by IP (127.0.0.1): the certificate is still checked against the IP; the warning is noise here.
const emitWarning = process.emitWarning.bind(process)
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const code = (rest[0] as { code?: string } | undefined)?.code ?? rest[1]
  if (code === 'DEP0123') return
  ;(emitWarning as (...args: unknown[]) => void)(warning, ...rest)
}) as typeof process.emitWarning

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env })
