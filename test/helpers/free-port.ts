// A free TCP port on 127.0.0.1 for a server a test starts itself (Jaeger, an
// own Redis or Kafka, a Sentinel): bound once to port 0 and released.
import { createServer } from 'node:net'

/** A free TCP port on 127.0.0.1 (bound once and released); rejects when nothing can be bound. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port)
        else reject(new Error('no TCP port could be bound on 127.0.0.1'))
      })
    })
  })
}
