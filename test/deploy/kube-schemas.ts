// Offline schemas for kubeconform: the Kubernetes API's own OpenAPI v2
// document (api/openapi-spec/swagger.json of the k8s.io/kubernetes Go module,
// which test/run.sh downloads once with `go mod download`) turned into
// kubeconform's layout — one standalone JSON Schema per kind, named
// `<kind><-group><-version>.json` — plus the OpenShift Route schema of
// test/deploy/schemas/. The conversion follows openapi2jsonschema's
// "standalone strict" flavour: references inlined, int-or-string and
// Quantity accept both JSON types, and every object with declared properties
// refuses others, so that a misspelt key fails like the API server's strict
// field validation.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

type Schema = Record<string, any>

const intOrString = { oneOf: [{ type: 'string' }, { type: 'integer' }] }
// resource.Quantity: "1", 1, 0.5 and "500m" are all quantities in YAML
const quantity = { oneOf: [{ type: 'string' }, { type: 'number' }] }

/**
 * The kubeconform file name of a group/version/kind: kind lower-cased, then
 * the group's first label (none for the core group) and the version, as
 * kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}` template spells it
 * (pkg/registry/registry.go of kubeconform v0.7.0).
 */
export function schemaFileName (gvk: { group: string, version: string, kind: string }): string {
  const group = gvk.group === '' ? '' : `-${gvk.group.split('.')[0]!.toLowerCase()}`
  return `${gvk.kind.toLowerCase()}${group}-${gvk.version.toLowerCase()}.json`
}

/** The kubeconform -schema-location template for a directory written by writeKubeSchemas. */
export function schemaLocation (dir: string): string {
  return join(dir, '{{ .ResourceKind }}{{ .KindSuffix }}.json')
}

// the API server takes JSON null for an optional field as "not set" (as openapi2jsonschema's schemas do)
function nullable (schema: Schema): Schema {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] }
  if (Array.isArray(schema.oneOf)) return { ...schema, oneOf: [...schema.oneOf, { type: 'null' }] }
  return schema
}

function convert (node: unknown, definitions: Schema, stack: string[]): unknown {
  if (Array.isArray(node)) return node.map(n => convert(n, definitions, stack))
  if (node === null || typeof node !== 'object') return node
  const n = node as Schema
  if (typeof n.$ref === 'string') {
    const name = n.$ref.replace('#/definitions/', '')
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') return quantity
    if (stack.includes(name)) return {}   // recursive types (JSONSchemaProps): left open below the first level
    const target = definitions[name]
    if (target === undefined) throw new Error(`swagger: $ref to unknown definition ${name}`)
    return convert(target, definitions, [...stack, name])
  }
  if (n.format === 'int-or-string') return intOrString
  const out: Schema = {}
  for (const [k, v] of Object.entries(n)) {
    if (k === 'description' || k.startsWith('x-kubernetes-')) continue
    const required = new Set((n.required ?? []) as string[])
    out[k] = k === 'properties'
      ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, required.has(p) ? convert(s, definitions, stack) : nullable(convert(s, definitions, stack) as Schema)]))
      : convert(v, definitions, stack)
  }
  if (out.properties !== undefined && out.additionalProperties === undefined && n['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false
  }
  return out
}

/**
 * Writes one schema per group/version/kind of the OpenAPI v2 document at
 * `swaggerPath` into `outDir`, then copies the hand-written schemas of
 * `extraDir` (the OpenShift Route) there too. Returns the file names written.
 * Throws when the document has no kinds (not a Kubernetes API document).
 */
export function writeKubeSchemas (swaggerPath: string, outDir: string, extraDir = new URL('./schemas', import.meta.url).pathname): string[] {
  const swagger = JSON.parse(readFileSync(swaggerPath, 'utf8')) as { definitions: Schema }
  const definitions = swagger.definitions
  mkdirSync(outDir, { recursive: true })
  const written: string[] = []
  for (const [name, def] of Object.entries(definitions)) {
    const gvks = (def['x-kubernetes-group-version-kind'] ?? []) as Array<{ group: string, version: string, kind: string }>
    // list kinds and the meta types (DeleteOptions, WatchEvent) carry many GVKs; a resource carries one
    if (gvks.length !== 1) continue
    const gvk = gvks[0]!
    const schema = convert(def, definitions, [name]) as Schema
    const apiVersion = gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`
    if (schema.properties?.apiVersion !== undefined) schema.properties.apiVersion = { type: 'string', enum: [apiVersion] }
    if (schema.properties?.kind !== undefined) schema.properties.kind = { type: 'string', enum: [gvk.kind] }
    const file = schemaFileName(gvk)
    writeFileSync(join(outDir, file), JSON.stringify(schema))
    written.push(file)
  }
  if (written.length === 0) throw new Error(`${swaggerPath}: no kinds (x-kubernetes-group-version-kind) found — not a Kubernetes OpenAPI v2 document`)
  for (const file of readdirSync(extraDir).filter(f => f.endsWith('.json'))) {
    copyFileSync(join(extraDir, file), join(outDir, file))
    written.push(file)
  }
  return written
}
