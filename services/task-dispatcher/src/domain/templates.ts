// Argv templates: `{placeholder}` filled from the block, the job and the
// task's inputs. An argument that is exactly `{inputs}`, `{runs}` or `{files}` expands
// into one argument per item; inside a longer argument the items are joined
// with commas. Nothing goes through a shell.
import type { placeholders } from './workflow.ts'

export type TemplateValues = Record<typeof placeholders[number], string | string[]>

export function fillTemplate (argv: readonly string[], values: TemplateValues): string[] {
  const out: string[] = []
  for (const arg of argv) {
    const whole = /^\{([A-Za-z]+)\}$/.exec(arg)
    const v = whole === null ? undefined : values[whole[1] as keyof TemplateValues]
    if (Array.isArray(v)) {
      out.push(...v)
      continue
    }
    out.push(fillText(arg, values))
  }
  return out
}

export function fillText (text: string, values: TemplateValues): string {
  return text.replace(/\{([A-Za-z]+)\}/g, (all, name: string) => {
    const v = values[name as keyof TemplateValues]
    if (v === undefined) return all
    return Array.isArray(v) ? v.join(',') : v
  })
}
