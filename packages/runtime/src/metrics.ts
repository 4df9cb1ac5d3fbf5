// Prometheus metrics: one registry per process with the default Node metrics
// and the bus counters every service has.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  registry: Registry
  consumed: Counter<'topic' | 'group'>
  produced: Counter<'topic'>
  handlerErrors: Counter<'topic' | 'group'>
  deadLettered: Counter<'topic' | 'group' | 'code'>
  consumerLag: Gauge<'topic' | 'partition' | 'group'>
  handlerSeconds: Histogram<'topic' | 'group'>
}

export function createMetrics (options: { service: string }): Metrics {
  const registry = new Registry()
  registry.setDefaultLabels({ service: options.service })
  collectDefaultMetrics({ register: registry })
  return {
    registry,
    consumed: new Counter({ name: 'autocal_bus_consumed_total', help: 'Messages handled successfully', labelNames: ['topic', 'group'], registers: [registry] }),
    produced: new Counter({ name: 'autocal_bus_produced_total', help: 'Messages produced', labelNames: ['topic'], registers: [registry] }),
    handlerErrors: new Counter({ name: 'autocal_bus_handler_errors_total', help: 'Handler attempts that threw', labelNames: ['topic', 'group'], registers: [registry] }),
    deadLettered: new Counter({ name: 'autocal_bus_dead_lettered_total', help: 'Messages sent to the DLQ', labelNames: ['topic', 'group', 'code'], registers: [registry] }),
    consumerLag: new Gauge({ name: 'autocal_bus_consumer_lag', help: 'Messages behind the high watermark after the last batch', labelNames: ['topic', 'partition', 'group'], registers: [registry] }),
    handlerSeconds: new Histogram({ name: 'autocal_bus_handler_seconds', help: 'Handler duration', labelNames: ['topic', 'group'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] })
  }
}
