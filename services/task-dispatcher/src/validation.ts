// The part of the task-dispatcher other packages may use: offline workflow
// validation (the `autocal workflows validate` command). Pure validation plus
// reading the files, and the duration grammar of workflow files (`autocal rtype
// create --min-duration`); nothing here connects to Kafka or Redis.
export { loadWorkflows, readWorkflowSources, validateSources } from './adapters/workflow-files.ts'
export type { LoadedWorkflows } from './adapters/workflow-files.ts'
export type { Workflow, WorkflowSource } from './domain/workflow.ts'
export { parseDuration } from './domain/duration.ts'
