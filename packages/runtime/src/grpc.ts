// gRPC over @grpc/grpc-js, driven by the protobuf-es descriptors of
// @autocal/contracts (one generator for Kafka messages and RPCs). Servers get
// the standard grpc.health.v1 service with the same semantics as /readyz.
import { setTimeout as delay } from 'node:timers/promises'
import * as grpc from '@grpc/grpc-js'
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethod, type DescService, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf'
import { HealthCheckResponse_ServingStatus, HealthCheckResponseSchema, Health, uint32OverflowProblem } from '@autocal/contracts'
import { AutocalError, errorMessage } from './errors.ts'
import { runChecks, type Check } from './http.ts'
import { lifecycle } from './shutdown.ts'
import type { Logger } from './logger.ts'

function serializer (schema: DescMessage) {
  return (value: unknown): Buffer => Buffer.from(toBinary(schema, isMessage(value, schema) ? value : create(schema, value as MessageInitShape<DescMessage>)))
}

/** Decodes a message; a uint32 wider than 32 bits on the wire (which the decoder would cut to its low bits) is refused. */
function deserializer (schema: DescMessage) {
  return (bytes: Buffer): MessageShape<DescMessage> => {
    const message = fromBinary(schema, bytes)
    const overflow = uint32OverflowProblem(schema, bytes)
    if (overflow !== undefined) throw new AutocalError('AUTOCAL_VALIDATION_FAILED', `${schema.typeName}: ${overflow}`)
    return message
  }
}

/** The grpc-js service definition of a protobuf-es service descriptor. */
export function definitionOf (service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<any, any>> = {}
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
      originalName: method.name
    }
  }
  return definition as grpc.ServiceDefinition
}

type Methods<S extends DescService> = S['method']

/** What a server implements: unary methods return the response, server-streaming methods are async generators. */
export type ServiceImplementation<S extends DescService> = {
  [K in keyof Methods<S>]: Methods<S>[K] extends DescMethod & { methodKind: 'unary', input: infer I extends DescMessage, output: infer O extends DescMessage }
    ? (request: MessageShape<I>, call: grpc.ServerUnaryCall<MessageShape<I>, MessageShape<O>>) => Promise<MessageInitShape<O>>
    : Methods<S>[K] extends DescMethod & { methodKind: 'server_streaming', input: infer I extends DescMessage, output: infer O extends DescMessage }
      ? (request: MessageShape<I>, call: grpc.ServerWritableStream<MessageShape<I>, MessageShape<O>>) => AsyncIterable<MessageInitShape<O>>
      : Methods<S>[K] extends DescMethod & { input: infer I extends DescMessage, output: infer O extends DescMessage }
        ? (call: grpc.ServerDuplexStream<MessageShape<I>, MessageShape<O>>) => Promise<void>
        : never
}

/** A grpc status error from any error: AutocalError codes map to gRPC codes. */
export function toGrpcError (err: unknown): Partial<grpc.StatusObject> & Error {
  const code = err instanceof AutocalError
    ? ({
        AUTOCAL_UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
        AUTOCAL_FORBIDDEN: grpc.status.PERMISSION_DENIED,
        AUTOCAL_NOT_FOUND: grpc.status.NOT_FOUND,
        AUTOCAL_VALIDATION_FAILED: grpc.status.INVALID_ARGUMENT,
        AUTOCAL_WORKFLOW_INVALID: grpc.status.INVALID_ARGUMENT,
        AUTOCAL_CONFIG_INVALID: grpc.status.INVALID_ARGUMENT,
        AUTOCAL_NOT_READY: grpc.status.UNAVAILABLE,
        AUTOCAL_SHUTTING_DOWN: grpc.status.UNAVAILABLE,
        AUTOCAL_BUSY: grpc.status.RESOURCE_EXHAUSTED
      } as Partial<Record<string, grpc.status>>)[err.code] ?? grpc.status.INTERNAL
    : grpc.status.INTERNAL
  return Object.assign(new Error(errorMessage(err)), { code, details: errorMessage(err) })
}

/**
 * Ends a server stream with the gRPC status of err (see toGrpcError). grpc-js
 * sends a stream's status only from the stream's 'error' event; destroy()
 * closes the stream without one, and the client waits for ever.
 */
export function failStream (call: grpc.ServerWritableStream<any, any> | grpc.ServerDuplexStream<any, any>, err: unknown): void {
  call.emit('error', toGrpcError(err))
}

function implement (service: DescService, impl: Record<string, (...args: any[]) => any>, logger: Logger): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {}
  for (const method of service.methods) {
    const fn = impl[method.localName]
    if (fn === undefined) continue
    const log = logger.child({ rpc: `${service.typeName}/${method.name}` })
    switch (method.methodKind) {
      case 'unary':
        out[method.localName] = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
          fn(call.request, call).then(
            (response: unknown) => callback(null, response),
            (err: unknown) => {
              if (!(err instanceof AutocalError) || err.code === 'AUTOCAL_HANDLER_FAILED') log.error({ err }, 'rpc failed')
              callback(toGrpcError(err))
            })
        }
        break
      case 'server_streaming':
        out[method.localName] = (call: grpc.ServerWritableStream<any, any>) => {
          const run = async (): Promise<void> => {
            for await (const response of fn(call.request, call) as AsyncIterable<unknown>) {
              if (call.cancelled || call.destroyed) break
              call.write(response)
            }
          }
          run().then(() => { if (!call.cancelled) call.end() }, (err: unknown) => { failStream(call, err) })
        }
        break
      case 'client_streaming':
      case 'bidi_streaming':
        out[method.localName] = (call: grpc.ServerDuplexStream<any, any>) => {
          fn(call).catch((err: unknown) => { failStream(call, err) })
        }
        break
    }
  }
  return out
}

export interface GrpcServerOptions {
  host: string
  /** 0 picks a free port; the handle tells which. */
  port: number
  logger: Logger
  services: Array<{ service: DescService, implementation: Record<string, (...args: any[]) => any> }>
  /** Readiness checks answered by grpc.health.v1. */
  checks?: Check[]
  /** TLS; plaintext when unset. */
  credentials?: grpc.ServerCredentials
}

export interface GrpcServer extends AsyncDisposable {
  port: number
  server: grpc.Server
}

/** Typed registration: `serve(ControlService, impl)` checks impl against the service. */
export function serve<S extends DescService> (service: S, implementation: ServiceImplementation<S>): GrpcServerOptions['services'][number] {
  return { service, implementation: implementation as Record<string, (...args: any[]) => any> }
}

export async function startGrpc (options: GrpcServerOptions): Promise<GrpcServer> {
  const log = options.logger.child({ component: 'grpc' })
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1 })
  const checks = options.checks ?? []
  const health = async (): Promise<HealthCheckResponse_ServingStatus> => {
    if (lifecycle.stopping) return HealthCheckResponse_ServingStatus.NOT_SERVING
    return (await runChecks(checks)).ready ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING
  }
  const all = [...options.services, serve(Health, {
    check: async () => ({ status: await health() }),
    watch: async function * (_request, call) {
      let last: HealthCheckResponse_ServingStatus | undefined
      while (!call.cancelled) {
        const status = await health()
        if (status !== last) yield create(HealthCheckResponseSchema, { status })
        last = status
        await delay(1000)
      }
    }
  })]
  for (const { service, implementation } of all) {
    server.addService(definitionOf(service), implement(service, implementation, log))
  }
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, options.credentials ?? grpc.ServerCredentials.createInsecure(),
      (err, p) => { if (err !== null) reject(err); else resolve(p) })
  })
  log.info({ host: options.host, port }, 'grpc listening')
  return {
    port,
    server,
    [Symbol.asyncDispose]: async () => {
      await new Promise<void>(resolve => {
        const force = setTimeout(() => { server.forceShutdown(); resolve() }, 5000)
        server.tryShutdown(() => { clearTimeout(force); resolve() })
      })
    }
  }
}

/** The bearer token of a call, from its `authorization: Bearer <token>` metadata. */
export function bearerToken (metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0]
  if (typeof value !== 'string') return undefined
  const match = /^Bearer\s+(.+)$/i.exec(value)
  return match?.[1]
}

/** What a client offers: unary methods return promises, server-streaming methods async iterables. */
export type GrpcClient<S extends DescService> = {
  [K in keyof Methods<S>]: Methods<S>[K] extends DescMethod & { methodKind: 'unary', input: infer I extends DescMessage, output: infer O extends DescMessage }
    ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
    : Methods<S>[K] extends DescMethod & { methodKind: 'server_streaming', input: infer I extends DescMessage, output: infer O extends DescMessage }
      ? (request: MessageInitShape<I>, options?: CallOptions) => grpc.ClientReadableStream<MessageShape<O>>
      : Methods<S>[K] extends DescMethod & { input: infer I extends DescMessage, output: infer O extends DescMessage }
        ? (options?: CallOptions) => grpc.ClientDuplexStream<MessageShape<I>, MessageShape<O>>
        : never
} & { close: () => void, raw: grpc.Client }

export interface CallOptions {
  deadlineMs?: number
  metadata?: grpc.Metadata
}

export interface GrpcClientOptions {
  token?: string | undefined
  /** TLS; plaintext when unset. */
  credentials?: grpc.ChannelCredentials
  /** Default deadline of unary calls. */
  deadlineMs?: number
}

export function createGrpcClient<S extends DescService> (service: S, address: string, options: GrpcClientOptions = {}): GrpcClient<S> {
  const Client = grpc.makeGenericClientConstructor(definitionOf(service), service.typeName)
  const raw = new Client(address, options.credentials ?? grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...args: any[]) => any>
  const metadataOf = (call?: CallOptions): grpc.Metadata => {
    const md = call?.metadata?.clone() ?? new grpc.Metadata()
    if (options.token !== undefined) md.set('authorization', `Bearer ${options.token}`)
    return md
  }
  const client: Record<string, unknown> = { raw, close: () => { raw.close() } }
  for (const method of service.methods) {
    const fn = raw[method.localName]?.bind(raw)
    if (fn === undefined) continue
    switch (method.methodKind) {
      case 'unary':
        client[method.localName] = async (request: unknown, call?: CallOptions) => await new Promise((resolve, reject) => {
          const deadlineMs = call?.deadlineMs ?? options.deadlineMs
          const callOptions: grpc.CallOptions = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs }
          fn(create(method.input, request as MessageInitShape<DescMessage>), metadataOf(call), callOptions,
            (err: grpc.ServiceError | null, response: unknown) => { if (err !== null) reject(err); else resolve(response) })
        })
        break
      case 'server_streaming':
        client[method.localName] = (request: unknown, call?: CallOptions) =>
          fn(create(method.input, request as MessageInitShape<DescMessage>), metadataOf(call))
        break
      case 'client_streaming':
      case 'bidi_streaming':
        client[method.localName] = (call?: CallOptions) => fn(metadataOf(call))
        break
    }
  }
  return client as GrpcClient<S>
}

export { grpc }
