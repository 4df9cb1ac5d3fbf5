// Lint and format: neostandard (2 spaces, single quotes, no semicolons) plus
// three type-aware rules and the purity rule for domain/ modules.
import neostandard from 'neostandard'
import tseslint from 'typescript-eslint'

const io = ['kafkajs', 'ioredis', 'fastify', 'pino', '@grpc/*', '@opentelemetry/*', '@autocal/runtime',
  'better-sqlite3', '@kubernetes/*', 'node:fs*', 'node:child_process', 'node:net', 'node:http*', 'fs', 'child_process']

export default [
  { ignores: ['packages/contracts/src/gen/**', '**/node_modules/**', '.autocal/**'] },
  ...neostandard({ ts: true }),
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }]
      }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // `await using _consumer = ...` holds a resource for its scope without naming a use
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-void': ['error', { allowAsStatement: true }],
      // generated protobuf names (HealthCheckResponse_ServingStatus) are not ours to rename
      camelcase: 'off',
      // `export const Config = z.object(...)` with `export type Config = z.infer<typeof Config>`
      '@typescript-eslint/no-redeclare': 'off'
    }
  },
  {
    files: ['services/*/src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: io, message: 'domain/ is pure: data in, decisions out; do I/O in adapters/' }]
      }]
    }
  }
]
