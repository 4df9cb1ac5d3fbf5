// autocal_backend_up{backend} on a real executor's /metrics (real Kafka and
// Redis): the Kubernetes API (its STAND-IN, test/stand-ins/kube-api.ts) is up
// while it answers, down once it has gone or answers 503; an htcondor backend
// whose condor_q cannot run is down; the agent backend without agents is down.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '@autocal/runtime'
import { Config } from '../../src/config.ts'
import { startJobExecutor } from '../../src/app.ts'
import { quietLogger, testEnv, until } from '../helpers/harness.ts'
import { startKubeStandIn } from '../stand-ins/kube-api.ts'

test('autocal_backend_up is 1 while a backend answers and 0 when it cannot be reached', { timeout: 60_000 }, async t => {
  const api = await startKubeStandIn()
  let apiGone = false
  const stopApi = async (): Promise<void> => { if (!apiGone) await api[Symbol.asyncDispose](); apiGone = true }
  t.after(stopApi)
  const env = testEnv({ AUTOCAL_EXECUTOR_BACKENDS: 'kubernetes,htcondor,agent', AUTOCAL_KUBE_SERVER: api.url, AUTOCAL_KUBE_IMAGES: 'registry.cern.ch/autocal/*', AUTOCAL_EXECUTOR_BACKEND_PROBE_MS: '200' })
  const tokenFile = join(env.AUTOCAL_DATA_DIR!, 'kube-token')
  writeFileSync(tokenFile, api.token)
  // a directory without the HTCondor tools: condor_q cannot run, the schedd cannot be asked
  const noCondor = join(env.AUTOCAL_DATA_DIR!, 'no-condor-tools')
  mkdirSync(noCondor)
  const logger = quietLogger()
  await using executor = await startJobExecutor(loadConfig(Config, { ...env, AUTOCAL_KUBE_TOKEN_FILE: tokenFile, AUTOCAL_CONDOR_BIN_DIR: noCondor }), logger)
  const up = async (): Promise<Record<string, string>> => {
    const text = await (await fetch(`http://127.0.0.1:${executor.port}/metrics`)).text()
    return Object.fromEntries([...text.matchAll(/^autocal_backend_up\{[^}]*\bbackend="([^"]+)"[^}]*\} (\d+)$/gm)].map(m => [m[1], m[2]]))
  }
  let seen: Record<string, string> = {}
  await until('every backend probed', async () => { seen = await up(); return Object.keys(seen).length === 3 }, 20_000)
  assert.deepEqual(seen, { kubernetes: '1', htcondor: '0', agent: '0' })
  assert.ok(api.requests.some(r => r.method === 'GET' && r.path.endsWith('/jobs/autocal-backend-probe/status')), 'the probe read a Job of the namespace')

  // the API answers, but with a server error: not usable, down
  for (let i = 0; i < 5; i++) api.failNext('GET', '/apis/batch/v1/', 503, 'etcd unavailable')
  await until('kubernetes down on 503', async () => (await up()).kubernetes === '0')
  await until('kubernetes up again', async () => (await up()).kubernetes === '1')

  // the API gone: the connection is refused
  await stopApi()
  await until('kubernetes down once the API is gone', async () => (await up()).kubernetes === '0')
})
