"""The AWS limits the `limit-*` rules check: each documented number as a constant, with the page
it comes from and, where AWS raises it, the Service Quotas code to ask for more.

Numbers checked against AWS's documentation (page names in each `source`); where a page gives a
size in KB or MB, AWS means 1,024 bytes or 1,024 KB (Lambda's GetAccountSettings reports
CodeSizeZipped 52,428,800 and CodeSizeUnzipped 262,144,000). Two come from the API reference
rather than a quotas page: EventBridge target input (PutTargets, `Input` and `InputTemplate` at
most 8,192 characters) and the state machine definition (CreateStateMachine, at most 1,048,576).
EventBridge Scheduler documents no size for a schedule's target input (its API gives no maximum):
only its counts are checked. Nothing here imports Pulumi.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    """A documented AWS limit: the number, its unit, the page that says so, and how to raise it."""

    name: str
    value: int
    unit: str
    source: str
    quota_code: str | None = None
    """Service Quotas code when the limit is adjustable (None: AWS does not raise it)."""
    ceiling: str | None = None
    """How far AWS raises it, when documented."""

    def describe(self) -> str:
        """`2,048 characters (EventBridge event pattern size; Amazon EventBridge quotas; adjustable: ...)`."""
        if self.quota_code:
            how = f"adjustable: Service Quotas code {self.quota_code}" + (
                f", up to {self.ceiling}" if self.ceiling else ""
            )
        else:
            how = "not adjustable"
        return f"{self.value:,} {self.unit} ({self.name}; {self.source}; {how})"


# -- the documented numbers ------------------------------------------------------------------------

EVENT_PATTERN = Limit(
    name="EventBridge event pattern size",
    value=2048,
    unit="characters",
    source="Amazon EventBridge quotas, Event pattern size",
    quota_code="L-664C5505",
    ceiling="4,096 characters",
)
EVENT_RULES_PER_BUS = Limit(
    name="EventBridge rules per event bus",
    value=300,
    unit="rules",
    source="Amazon EventBridge quotas, Number of rules (100 in af-south-1 and eu-south-1)",
    quota_code="L-244521F2",
)
EVENT_WILDCARD_RULES = Limit(
    name="EventBridge rules with wildcard filters per event bus",
    value=30,
    unit="rules",
    source="Amazon EventBridge quotas, Rules containing wildcards",
)
EVENT_TARGETS = Limit(
    name="EventBridge targets per rule", value=5, unit="targets", source="Amazon EventBridge quotas, Targets per rule"
)
EVENT_BUS_POLICY = Limit(
    name="EventBridge event bus policy size",
    value=10240,
    unit="characters",
    source="Amazon EventBridge quotas, Event bus policy size",
    quota_code="L-FC354966",
)
EVENT_TARGET_INPUT = Limit(
    name="EventBridge target input",
    value=8192,
    unit="characters",
    source="EventBridge API reference, PutTargets: Target Input and InputTemplate length",
)
IAM_ROLE_INLINE = Limit(
    name="IAM inline policies of one role, together",
    value=10240,
    unit="characters",
    source="IAM and AWS STS quotas, inline policies: role policy size, white space not counted",
)
IAM_MANAGED_POLICY = Limit(
    name="IAM managed policy size",
    value=6144,
    unit="characters",
    source="IAM and AWS STS quotas, managed policies, white space not counted",
)
IAM_TRUST_POLICY = Limit(
    name="IAM role trust policy length",
    value=2048,
    unit="characters",
    source="IAM and AWS STS quotas, Role trust policy length",
    quota_code="L-C07B4B0D",
    # The IAM guide's table of adjustable quotas: 4,096 (some newer pages say 8,192).
    ceiling="4,096 characters",
)
IAM_ROLES = Limit(
    name="IAM roles per account",
    value=1000,
    unit="roles",
    source="IAM and AWS STS quotas, Roles in an AWS account",
    quota_code="L-FE177D64",
    ceiling="5,000 roles",
)
S3_BUCKET_POLICY = Limit(
    name="S3 bucket policy size",
    value=20 * 1024,
    unit="bytes",
    source="Amazon S3 user guide, Bucket policies and user policies (20 KB)",
)
KMS_KEY_POLICY = Limit(
    name="KMS key policy size",
    value=32768,
    unit="bytes",
    source="AWS KMS developer guide, Key policy format (32 KB, 32,768 bytes)",
)
SNS_TOPIC_POLICY = Limit(
    name="SNS topic policy size",
    value=30 * 1024,
    unit="bytes",
    source="Amazon SNS API permissions reference, Policy quotas (30 KB)",
)
SNS_POLICY_STATEMENTS = Limit(
    name="SNS topic policy statements",
    value=100,
    unit="statements",
    source="Amazon SNS API permissions reference, Policy quotas",
)
SQS_QUEUE_POLICY = Limit(
    name="SQS queue policy size", value=8192, unit="bytes", source="Amazon SQS policy quotas, Bytes"
)
SQS_POLICY_STATEMENTS = Limit(
    name="SQS queue policy statements", value=20, unit="statements", source="Amazon SQS policy quotas, Statements"
)
LAMBDA_ENVIRONMENT = Limit(
    name="Lambda environment variables, together",
    value=4096,
    unit="bytes",
    source="Lambda quotas, Function environment variables (4 KB)",
)
LAMBDA_LAYERS = Limit(
    name="Lambda layers per function", value=5, unit="layers", source="Lambda quotas, Function layers"
)
LAMBDA_ZIPPED = Limit(
    name="Lambda deployment package, zipped, direct upload",
    value=50 * MB,
    unit="bytes",
    source="Lambda quotas, Deployment package size (50 MB zipped, for direct upload)",
)
LAMBDA_UNZIPPED = Limit(
    name="Lambda deployment package, unzipped, layers included",
    value=250 * MB,
    unit="bytes",
    source="Lambda quotas, Deployment package size (250 MB unzipped, including layers)",
)
LAMBDA_POLICY = Limit(
    name="Lambda function resource-based policy",
    value=20 * 1024,
    unit="bytes",
    source="Lambda quotas, Function resource-based policy (20 KB)",
)
SFN_DEFINITION = Limit(
    name="Step Functions state machine definition",
    value=MB,
    unit="characters",
    source="Step Functions service quotas, Maximum size of state machine definition (1 MB)",
)
DASHBOARD_WIDGETS = Limit(
    name="CloudWatch dashboard widgets",
    value=500,
    unit="widgets",
    source="CloudWatch API reference, Dashboard Body Structure (0 to 500 widgets)",
)
DASHBOARD_ALARMS = Limit(
    name="alarms in one alarm status widget",
    value=100,
    unit="alarms",
    source="CloudWatch API reference, Dashboard Body Structure, alarm status widget (1 to 100 alarm ARNs)",
)
DASHBOARD_WIDGET_METRICS = Limit(
    name="metrics per dashboard widget",
    value=500,
    unit="metrics",
    source="CloudWatch service quotas, Dashboards (500 per widget)",
)
DASHBOARD_METRICS = Limit(
    name="metrics per dashboard",
    value=2500,
    unit="metrics",
    source="CloudWatch service quotas, Dashboards (2,500 per dashboard)",
)
TAGS = Limit(
    name="tags per resource",
    value=50,
    unit="tags",
    source="the tagging page of each service (e.g. IAM and AWS STS quotas, tags per role)",
)
TAG_KEY = Limit(
    name="tag key length",
    value=128,
    unit="characters",
    source="IAM and AWS STS quotas, Tag key; the same in every service",
)
TAG_VALUE = Limit(
    name="tag value length",
    value=256,
    unit="characters",
    source="IAM and AWS STS quotas, Tag value; the same in every service",
)
DYNAMODB_TABLES = Limit(
    name="DynamoDB tables per account and Region",
    value=2500,
    unit="tables",
    source="Quotas in Amazon DynamoDB, tables per account",
    quota_code="L-F98FE922",
)
SCHEDULES = Limit(
    name="EventBridge Scheduler schedules per account and Region",
    value=10_000_000,
    unit="schedules",
    source="Quotas for Amazon EventBridge Scheduler, Number of schedules",
    quota_code="L-EE5D6FF0",
    # 10,000,000 on the current Scheduler quotas page (1,000,000 before).
)
SCHEDULE_GROUPS = Limit(
    name="EventBridge Scheduler schedule groups per account",
    value=500,
    unit="schedule groups",
    source="EventBridge Scheduler user guide, Managing a schedule group",
    quota_code="L-A632CD40",
)
