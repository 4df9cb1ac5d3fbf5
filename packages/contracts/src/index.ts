// Public surface of @autocal/contracts: the generated messages, their schemas and
// JSON types, the gRPC service descriptor, the topic registry and the task state names.
// Written by scripts/write-index.ts (`pnpm gen`); src/gen is never edited by hand.

export {
  AgentCapabilitiesSchema,
  AgentJobRefSchema,
  AgentRegisterSchema,
  AgentHeartbeatSchema,
  AgentJobUpdateSchema,
  AgentLogLinesSchema,
  AgentServiceConnectRequestSchema,
  AgentRegisteredSchema,
  AgentAssignSchema,
  AgentCancelSchema,
  AgentServiceConnectResponseSchema,
  AgentService
} from './gen/autocal/agent/v1/agent_pb.ts'
export type {
  AgentCapabilities,
  AgentCapabilitiesJson,
  AgentJobRef,
  AgentJobRefJson,
  AgentRegister,
  AgentRegisterJson,
  AgentHeartbeat,
  AgentHeartbeatJson,
  AgentJobUpdate,
  AgentJobUpdateJson,
  AgentLogLines,
  AgentLogLinesJson,
  AgentServiceConnectRequest,
  AgentServiceConnectRequestJson,
  AgentRegistered,
  AgentRegisteredJson,
  AgentAssign,
  AgentAssignJson,
  AgentCancel,
  AgentCancelJson,
  AgentServiceConnectResponse,
  AgentServiceConnectResponseJson
} from './gen/autocal/agent/v1/agent_pb.ts'
export {
  AuditRecordSchema
} from './gen/autocal/audit/v1/audit_pb.ts'
export type {
  AuditRecord,
  AuditRecordJson
} from './gen/autocal/audit/v1/audit_pb.ts'
export {
  WorkflowRefSchema,
  RunFilterDefinitionSchema,
  RunTypeDefinitionSchema,
  TagTargetSchema,
  ConditionsTargetSchema,
  CampaignDefinitionSchema,
  CampaignKind,
  CampaignKindSchema,
  CampaignState,
  CampaignStateSchema
} from './gen/autocal/campaigns/v1/campaigns_pb.ts'
export type {
  WorkflowRef,
  WorkflowRefJson,
  RunFilterDefinition,
  RunFilterDefinitionJson,
  RunTypeDefinition,
  RunTypeDefinitionJson,
  TagTarget,
  TagTargetJson,
  ConditionsTarget,
  ConditionsTargetJson,
  CampaignDefinition,
  CampaignDefinitionJson,
  CampaignKindJson,
  CampaignStateJson
} from './gen/autocal/campaigns/v1/campaigns_pb.ts'
export {
  BlockSchema,
  OutputSchema,
  ProvenanceSchema,
  BlockKind,
  BlockKindSchema
} from './gen/autocal/common/v1/common_pb.ts'
export type {
  Block,
  BlockJson,
  Output,
  OutputJson,
  Provenance,
  ProvenanceJson,
  BlockKindJson
} from './gen/autocal/common/v1/common_pb.ts'
export {
  ConditionRequestSchema,
  FcsrPolicy,
  FcsrPolicySchema
} from './gen/autocal/conditions/requests/v1/requests_pb.ts'
export type {
  ConditionRequest,
  ConditionRequestJson,
  FcsrPolicyJson
} from './gen/autocal/conditions/requests/v1/requests_pb.ts'
export {
  ConditionEventSchema,
  Outcome,
  OutcomeSchema
} from './gen/autocal/conditions/v1/conditions_pb.ts'
export type {
  ConditionEvent,
  ConditionEventJson,
  OutcomeJson
} from './gen/autocal/conditions/v1/conditions_pb.ts'
export {
  CreateCampaignRequestSchema,
  CreateCampaignResponseSchema,
  ListCampaignsRequestSchema,
  CampaignInfoSchema,
  ListCampaignsResponseSchema,
  ChangeCampaignStateRequestSchema,
  ChangeCampaignStateResponseSchema,
  CreateRunTypeRequestSchema,
  CreateRunTypeResponseSchema,
  UpdateRunTypeRequestSchema,
  UpdateRunTypeResponseSchema
} from './gen/autocal/control/v1/campaigns_pb.ts'
export type {
  CreateCampaignRequest,
  CreateCampaignRequestJson,
  CreateCampaignResponse,
  CreateCampaignResponseJson,
  ListCampaignsRequest,
  ListCampaignsRequestJson,
  CampaignInfo,
  CampaignInfoJson,
  ListCampaignsResponse,
  ListCampaignsResponseJson,
  ChangeCampaignStateRequest,
  ChangeCampaignStateRequestJson,
  ChangeCampaignStateResponse,
  ChangeCampaignStateResponseJson,
  CreateRunTypeRequest,
  CreateRunTypeRequestJson,
  CreateRunTypeResponse,
  CreateRunTypeResponseJson,
  UpdateRunTypeRequest,
  UpdateRunTypeRequestJson,
  UpdateRunTypeResponse,
  UpdateRunTypeResponseJson
} from './gen/autocal/control/v1/campaigns_pb.ts'
export {
  SelectorSchema,
  InjectRunsSchema,
  RunRangeSchema,
  ReprocessSchema,
  SkipSchema,
  CancelSchema,
  ResubmitFailedJobsSchema,
  ApproveConditionSchema,
  RejectConditionSchema,
  PromoteConditionSchema,
  ControlCommandSchema,
  InjectRunsRequestSchema,
  InjectRunsResponseSchema,
  ExcludedRunSchema,
  ReprocessRequestSchema,
  ReprocessResponseSchema,
  SkipRequestSchema,
  SkipResponseSchema,
  CancelRequestSchema,
  CancelResponseSchema,
  GetStatusRequestSchema,
  StatusCellSchema,
  GetStatusResponseSchema,
  WorkflowInfoSchema,
  ListWorkflowsRequestSchema,
  ListWorkflowsResponseSchema,
  WorkflowFileSchema,
  ValidateWorkflowsRequestSchema,
  ValidateWorkflowsResponseSchema,
  WatchTasksRequestSchema,
  WatchTasksResponseSchema,
  ListPendingConditionsRequestSchema,
  PendingConditionSchema,
  ListPendingConditionsResponseSchema,
  ApproveConditionRequestSchema,
  ApproveConditionResponseSchema,
  RejectConditionRequestSchema,
  RejectConditionResponseSchema,
  PromoteConditionRequestSchema,
  PromoteConditionResponseSchema,
  ListTasksRequestSchema,
  ListTasksResponseSchema,
  ResubmitFailedJobsRequestSchema,
  ResubmitFailedJobsResponseSchema,
  ControlService
} from './gen/autocal/control/v1/control_pb.ts'
export type {
  Selector,
  SelectorJson,
  InjectRuns,
  InjectRunsJson,
  RunRange,
  RunRangeJson,
  Reprocess,
  ReprocessJson,
  Skip,
  SkipJson,
  Cancel,
  CancelJson,
  ResubmitFailedJobs,
  ResubmitFailedJobsJson,
  ApproveCondition,
  ApproveConditionJson,
  RejectCondition,
  RejectConditionJson,
  PromoteCondition,
  PromoteConditionJson,
  ControlCommand,
  ControlCommandJson,
  InjectRunsRequest,
  InjectRunsRequestJson,
  InjectRunsResponse,
  InjectRunsResponseJson,
  ExcludedRun,
  ExcludedRunJson,
  ReprocessRequest,
  ReprocessRequestJson,
  ReprocessResponse,
  ReprocessResponseJson,
  SkipRequest,
  SkipRequestJson,
  SkipResponse,
  SkipResponseJson,
  CancelRequest,
  CancelRequestJson,
  CancelResponse,
  CancelResponseJson,
  GetStatusRequest,
  GetStatusRequestJson,
  StatusCell,
  StatusCellJson,
  GetStatusResponse,
  GetStatusResponseJson,
  WorkflowInfo,
  WorkflowInfoJson,
  ListWorkflowsRequest,
  ListWorkflowsRequestJson,
  ListWorkflowsResponse,
  ListWorkflowsResponseJson,
  WorkflowFile,
  WorkflowFileJson,
  ValidateWorkflowsRequest,
  ValidateWorkflowsRequestJson,
  ValidateWorkflowsResponse,
  ValidateWorkflowsResponseJson,
  WatchTasksRequest,
  WatchTasksRequestJson,
  WatchTasksResponse,
  WatchTasksResponseJson,
  ListPendingConditionsRequest,
  ListPendingConditionsRequestJson,
  PendingCondition,
  PendingConditionJson,
  ListPendingConditionsResponse,
  ListPendingConditionsResponseJson,
  ApproveConditionRequest,
  ApproveConditionRequestJson,
  ApproveConditionResponse,
  ApproveConditionResponseJson,
  RejectConditionRequest,
  RejectConditionRequestJson,
  RejectConditionResponse,
  RejectConditionResponseJson,
  PromoteConditionRequest,
  PromoteConditionRequestJson,
  PromoteConditionResponse,
  PromoteConditionResponseJson,
  ListTasksRequest,
  ListTasksRequestJson,
  ListTasksResponse,
  ListTasksResponseJson,
  ResubmitFailedJobsRequest,
  ResubmitFailedJobsRequestJson,
  ResubmitFailedJobsResponse,
  ResubmitFailedJobsResponseJson
} from './gen/autocal/control/v1/control_pb.ts'
export {
  CloseBlockRequestSchema,
  CloseBlockResponseSchema,
  ForceGateRequestSchema,
  ForceGateResponseSchema,
  CloseBlockSchema,
  ForceGateSchema
} from './gen/autocal/control/v1/gates_pb.ts'
export type {
  CloseBlockRequest,
  CloseBlockRequestJson,
  CloseBlockResponse,
  CloseBlockResponseJson,
  ForceGateRequest,
  ForceGateRequestJson,
  ForceGateResponse,
  ForceGateResponseJson,
  CloseBlock,
  CloseBlockJson,
  ForceGate,
  ForceGateJson
} from './gen/autocal/control/v1/gates_pb.ts'
export {
  ReplayBoundSchema,
  ReplaySchema,
  StartReplayRequestSchema,
  StartReplayResponseSchema,
  GetReplayRequestSchema,
  GetReplayResponseSchema,
  ListReplaysRequestSchema,
  ListReplaysResponseSchema,
  CancelReplayRequestSchema,
  CancelReplayResponseSchema,
  ReplayState,
  ReplayStateSchema
} from './gen/autocal/control/v1/replay_pb.ts'
export type {
  ReplayBound,
  ReplayBoundJson,
  Replay,
  ReplayJson,
  StartReplayRequest,
  StartReplayRequestJson,
  StartReplayResponse,
  StartReplayResponseJson,
  GetReplayRequest,
  GetReplayRequestJson,
  GetReplayResponse,
  GetReplayResponseJson,
  ListReplaysRequest,
  ListReplaysRequestJson,
  ListReplaysResponse,
  ListReplaysResponseJson,
  CancelReplayRequest,
  CancelReplayRequestJson,
  CancelReplayResponse,
  CancelReplayResponseJson,
  ReplayStateJson
} from './gen/autocal/control/v1/replay_pb.ts'
export {
  DeadLetterSchema
} from './gen/autocal/dlq/v1/dlq_pb.ts'
export type {
  DeadLetter,
  DeadLetterJson
} from './gen/autocal/dlq/v1/dlq_pb.ts'
export {
  ResourcesSchema,
  StartJobSchema,
  CancelJobSchema,
  JobRequestSchema
} from './gen/autocal/jobs/requests/v1/requests_pb.ts'
export type {
  Resources,
  ResourcesJson,
  StartJob,
  StartJobJson,
  CancelJob,
  CancelJobJson,
  JobRequest,
  JobRequestJson
} from './gen/autocal/jobs/requests/v1/requests_pb.ts'
export {
  JobStatusSchema,
  JobPhase,
  JobPhaseSchema
} from './gen/autocal/jobs/status/v1/status_pb.ts'
export type {
  JobStatus,
  JobStatusJson,
  JobPhaseJson
} from './gen/autocal/jobs/status/v1/status_pb.ts'
export {
  ReadinessSchema,
  RunEntrySchema,
  SourceMarkSchema,
  RegistryEntrySchema
} from './gen/autocal/runs/registry/v1/registry_pb.ts'
export type {
  Readiness,
  ReadinessJson,
  RunEntry,
  RunEntryJson,
  SourceMark,
  SourceMarkJson,
  RegistryEntry,
  RegistryEntryJson
} from './gen/autocal/runs/registry/v1/registry_pb.ts'
export {
  RunSchema,
  RunStartedSchema,
  RunUpdatedSchema,
  RunEndedSchema,
  StreamDoneSchema,
  DatasetDoneSchema,
  FirstConditionSafeRunSchema,
  RunEventSchema
} from './gen/autocal/runs/v1/runs_pb.ts'
export type {
  Run,
  RunJson,
  RunStarted,
  RunStartedJson,
  RunUpdated,
  RunUpdatedJson,
  RunEnded,
  RunEndedJson,
  StreamDone,
  StreamDoneJson,
  DatasetDone,
  DatasetDoneJson,
  FirstConditionSafeRun,
  FirstConditionSafeRunJson,
  RunEvent,
  RunEventJson
} from './gen/autocal/runs/v1/runs_pb.ts'
export {
  TaskGatesSchema,
  ForcedGateSchema,
  GateTimeoutSchema
} from './gen/autocal/tasks/v1/gates_pb.ts'
export type {
  TaskGates,
  TaskGatesJson,
  ForcedGate,
  ForcedGateJson,
  GateTimeout,
  GateTimeoutJson
} from './gen/autocal/tasks/v1/gates_pb.ts'
export {
  TaskJobSchema,
  TaskEventSchema,
  TaskConditionSchema,
  TaskState,
  TaskStateSchema,
  JobState,
  JobStateSchema
} from './gen/autocal/tasks/v1/tasks_pb.ts'
export type {
  TaskJob,
  TaskJobJson,
  TaskEvent,
  TaskEventJson,
  TaskCondition,
  TaskConditionJson,
  TaskStateJson,
  JobStateJson
} from './gen/autocal/tasks/v1/tasks_pb.ts'
export {
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponse_ServingStatusSchema,
  Health
} from './gen/grpc/health/v1/health_pb.ts'
export type {
  HealthCheckRequest,
  HealthCheckRequestJson,
  HealthCheckResponse,
  HealthCheckResponseJson,
  HealthCheckResponse_ServingStatusJson
} from './gen/grpc/health/v1/health_pb.ts'
export { topics, allTopics, topicName, taskKey, registryKey, headers, contentTypes } from './topics.ts'
export type { Topic, Topics, TopicId, TopicSettings, EventMeta } from './topics.ts'
export { taskStateNames, taskStateName } from './task-states.ts'
export type { TaskStateName } from './task-states.ts'
export { nameKinds, nameProblem, isValidName, runLimit, runProblem } from './names.ts'
export type { NameKind } from './names.ts'
export { maxJobResults, maxOperatorReason, messageProblem, operatorReasonProblem, resultsProblem, runRecordProblem, selectorProblem, uint32OverflowProblem } from './message-check.ts'
export { condorJobFlavours, accountingGroupRe, passedEnvProblem } from './job-options.ts'
export { taskResults } from './job-results.ts'
