#!/usr/bin/env node
// The `autocal` command. See `autocal --help` and packages/cli/README.md.
import { runCli } from './cli.ts'

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env })
