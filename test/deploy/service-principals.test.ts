// The launcher (deploy/local/system.ts) runs each service as its own Kafka
// and Redis principal on the secure local servers, and keeps the
// environment's principal where the servers' ACLs do not apply (a topic prefix).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { servicePrincipalEnv } from '../../deploy/local/system.ts'

test('each service gets its own principal and password files beside the admin\'s, only for the unprefixed system', (t) => {
  const secrets = mkdtempSync(join(tmpdir(), 'autocal-secrets-'))
  t.after(() => rmSync(secrets, { recursive: true, force: true }))
  for (const f of ['kafka-autocal-admin', 'redis-autocal-admin', 'kafka-metrics', 'redis-metrics', 'kafka-job-executor']) writeFileSync(join(secrets, f), 'pw\n')
  const env = {
    AUTOCAL_KAFKA_USERNAME: 'autocal-admin',
    AUTOCAL_KAFKA_PASSWORD_FILE: join(secrets, 'kafka-autocal-admin'),
    AUTOCAL_REDIS_USERNAME: 'autocal-admin',
    AUTOCAL_REDIS_PASSWORD_FILE: join(secrets, 'redis-autocal-admin')
  }
  assert.deepEqual(servicePrincipalEnv('metrics', env, ''), {
    AUTOCAL_KAFKA_USERNAME: 'metrics',
    AUTOCAL_KAFKA_PASSWORD_FILE: join(secrets, 'kafka-metrics'),
    AUTOCAL_REDIS_USERNAME: 'metrics',
    AUTOCAL_REDIS_PASSWORD_FILE: join(secrets, 'redis-metrics')
  })
  // only what exists is replaced: the executor has a Kafka file here, no Redis one
  assert.deepEqual(servicePrincipalEnv('job-executor', env, ''), { AUTOCAL_KAFKA_USERNAME: 'job-executor', AUTOCAL_KAFKA_PASSWORD_FILE: join(secrets, 'kafka-job-executor') })
  assert.deepEqual(servicePrincipalEnv('metrics', env, 'e2e-1'), {}, 'prefixed topics: the ACLs name only the plain ones')
  assert.deepEqual(servicePrincipalEnv('metrics', {}, ''), {}, 'plaintext servers: nothing to replace')
  assert.deepEqual(servicePrincipalEnv('metrics', { ...env, AUTOCAL_KAFKA_PASSWORD_FILE: join(secrets, 'kafka-metrics') }, '').AUTOCAL_KAFKA_USERNAME, undefined,
    'a non-admin password file is kept as it is')
})
