"""Engine models, one module per topic."""

from ragengine.models.alerts import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertKind,
    AlertNotice,
    AlertRule,
    AlertState,
    CircuitState,
    ProviderCircuit,
    Webhook,
    WebhookAttempt,
)
from ragengine.models.api_tokens import ApiScope, ApiToken, ApiTokenKind
from ragengine.models.blocked_patterns import BlockedPattern
from ragengine.models.cache import (
    CacheCategory,
    CachedAnswer,
    CacheEvent,
    CacheEventKind,
    CacheRule,
)
from ragengine.models.channels import ChannelBinding
from ragengine.models.dashboard import DashboardDay
from ragengine.models.embeddings import EmbeddingCacheEntry
from ragengine.models.evaluation import CaseLanguage, CaseOrigin, EvalCase, EvalSet
from ragengine.models.evaluation_reports import (
    DeliveryChannel,
    DeliveryStatus,
    EvalSchedule,
    Frequency,
    ReportDelivery,
)
from ragengine.models.evaluation_runs import (
    FINISHED_STATUSES,
    EvalResult,
    EvalRun,
    EvalRunStatus,
    EvalRunTarget,
    ResultStatus,
    TargetKind,
)
from ragengine.models.feedback import Feedback, FeedbackValue
from ragengine.models.history import QuestionOutcome, QuestionRecord
from ragengine.models.knowledge import (
    Chunk,
    Document,
    DocumentKind,
    DocumentStatus,
    KnowledgeSet,
    ReembedStatus,
    VectorText,
)
from ragengine.models.people import Identity, Member, Platform
from ragengine.models.providers import ModelPrice, ProviderEndpoint, ProviderKind
from ragengine.models.sources import Source, SyncRun, SyncRunStatus, SyncTrigger
from ragengine.models.tiers import HardLimitPolicy, Tier, TierModel, Workspace
from ragengine.models.usage import UsageRecord, UsageStatus
from ragengine.models.workers import WorkerHeartbeat

__all__ = [
    "AlertDelivery",
    "AlertDestination",
    "AlertEvent",
    "AlertKind",
    "AlertNotice",
    "AlertRule",
    "AlertState",
    "CircuitState",
    "ProviderCircuit",
    "Webhook",
    "WebhookAttempt",
    "ApiScope",
    "ApiToken",
    "ApiTokenKind",
    "FINISHED_STATUSES",
    "BlockedPattern",
    "CacheCategory",
    "CacheEvent",
    "CacheEventKind",
    "CacheRule",
    "CachedAnswer",
    "CaseLanguage",
    "CaseOrigin",
    "ChannelBinding",
    "Chunk",
    "DashboardDay",
    "Document",
    "DeliveryChannel",
    "DeliveryStatus",
    "DocumentKind",
    "DocumentStatus",
    "EmbeddingCacheEntry",
    "EvalCase",
    "EvalResult",
    "EvalRun",
    "EvalRunStatus",
    "EvalRunTarget",
    "EvalSchedule",
    "EvalSet",
    "Feedback",
    "FeedbackValue",
    "Frequency",
    "HardLimitPolicy",
    "Identity",
    "KnowledgeSet",
    "ReembedStatus",
    "Member",
    "ModelPrice",
    "Platform",
    "QuestionOutcome",
    "QuestionRecord",
    "ProviderEndpoint",
    "ProviderKind",
    "ReportDelivery",
    "ResultStatus",
    "Source",
    "SyncRun",
    "SyncRunStatus",
    "SyncTrigger",
    "TargetKind",
    "Tier",
    "TierModel",
    "UsageRecord",
    "VectorText",
    "UsageStatus",
    "WorkerHeartbeat",
    "Workspace",
]
