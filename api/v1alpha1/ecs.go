package v1alpha1

// AWS says how kanaria reaches AWS: the standard credential chain
// (environment, shared config and credentials files with Profile, then the
// ECS task role or the EC2 instance role) and, for tests or private
// endpoints, one endpoint for every service.
type AWS struct {
	// Region, default: the chain's (AWS_REGION, the profile's region).
	// +optional
	Region string `json:"region,omitempty"`
	// Profile of the shared config files, default: AWS_PROFILE or "default".
	// +optional
	Profile string `json:"profile,omitempty"`
	// Endpoint replaces the AWS endpoint of ECS, ELBv2 and CloudWatch
	// ("http://127.0.0.1:4566"); empty uses AWS's.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// MaxAttempts of one call when AWS throttles or fails transiently
	// (the SDK's standard retryer with exponential backoff), default 8.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxAttempts int `json:"maxAttempts,omitempty"`
}

// ECSPlatform runs each revision as a task set of an ECS service whose
// deployment controller is EXTERNAL. The service has two target groups;
// the stable task set is registered in one and a canary (or green) task
// set in the other. At promotion the canary's task set, already judged,
// is scaled to 100 % and made PRIMARY, and the two target groups swap
// roles: no second rolling update is needed.
type ECSPlatform struct {
	// AWS: region, profile, endpoint.
	// +optional
	AWS AWS `json:"aws,omitempty"`
	// Cluster name or ARN.
	// +kubebuilder:validation:MinLength=1
	Cluster string `json:"cluster"`
	// Service name or ARN; its deploymentController must be EXTERNAL.
	// +kubebuilder:validation:MinLength=1
	Service string `json:"service"`
	// TaskDefinition is the template each revision's task definition is
	// registered from.
	TaskDefinition ECSTaskDefinition `json:"taskDefinition"`
	// TargetGroups are the two target group ARNs the task sets register
	// in; the ELB forward actions carry both.
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=2
	TargetGroups []string `json:"targetGroups"`
	// ContainerName and ContainerPort are the container the target groups
	// send traffic to.
	// +kubebuilder:validation:MinLength=1
	ContainerName string `json:"containerName"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ContainerPort int32 `json:"containerPort"`
	// CanaryScale is the canary task set's size in percent of the
	// service's desired count (the task set's scale), default 100. A
	// blue/green green task set is always 100 %.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	CanaryScale *float64 `json:"canaryScale,omitempty"`
	// LaunchType of the task sets, default FARGATE.
	// +kubebuilder:validation:Enum=FARGATE;EC2;EXTERNAL
	// +optional
	LaunchType string `json:"launchType,omitempty"`
	// Subnets and SecurityGroups are the awsvpc network of the task sets;
	// AssignPublicIP gives each task a public address.
	// +optional
	Subnets []string `json:"subnets,omitempty"`
	// +optional
	SecurityGroups []string `json:"securityGroups,omitempty"`
	// +optional
	AssignPublicIP bool `json:"assignPublicIP,omitempty"`
	// PollInterval is how often task sets are described, default 5s.
	// +optional
	PollInterval Duration `json:"pollInterval,omitempty"`
}

// ECSTaskDefinition is how a revision becomes a task definition: the
// latest (or named) revision of From is copied with each listed
// container's image and env rendered from the revision, and registered in
// the same family, tagged with the revision.
type ECSTaskDefinition struct {
	// From is a family ("web"), family:revision or ARN.
	// +kubebuilder:validation:MinLength=1
	From string `json:"from"`
	// Containers name containers of From and their image (and env)
	// templates with {{.Revision}}. At least one.
	// +kubebuilder:validation:MinItems=1
	Containers []ContainerTemplate `json:"containers"`
}

// ELBTraffic moves the weights of the forward actions of ELBv2 (ALB)
// listeners or listener rules. Each forward action must carry exactly the
// platform's two target groups. An ELB weight is 0–999 per target group,
// so a weight is honoured as the nearest ratio of two such numbers (the
// smallest share above 0 is 1:999, 0.1 %); the status says which.
type ELBTraffic struct {
	// AWS: region, profile, endpoint; default the platform's.
	// +optional
	AWS *AWS `json:"aws,omitempty"`
	// Listeners whose default action is the forward action (ARNs).
	// +optional
	Listeners []string `json:"listeners,omitempty"`
	// Rules whose action is the forward action (ARNs).
	// +optional
	Rules []string `json:"rules,omitempty"`
	// TestListeners and TestRules forward all their traffic to the canary
	// (blue/green's green) while it runs, so it can be tried before the
	// switch, and to stable otherwise.
	// +optional
	TestListeners []string `json:"testListeners,omitempty"`
	// +optional
	TestRules []string `json:"testRules,omitempty"`
	// Stickiness turns on the forward action's target group stickiness for
	// this long (1s–7d). ELB keeps a client on the target group it was
	// given, whatever the weights: as the canary's weight grows a sticky
	// client on stable stays there, so unlike kanaria's router the
	// canary's users do not grow monotonically.
	// +optional
	Stickiness *Duration `json:"stickiness,omitempty"`
}

// CloudWatchMetric reads the ALB's per-target-group metrics from CloudWatch
// (GetMetricData, namespace AWS/ApplicationELB), summed over every load
// balancer the target group belongs to: RequestCount and
// HTTPCode_Target_5XX_Count for error rates, TargetResponseTime for
// latency. The canary's target group is compared with stable's.
type CloudWatchMetric struct {
	// AWS: region, profile, endpoint; default the platform's.
	// +optional
	AWS *AWS `json:"aws,omitempty"`
	// Measure is errorRate, latency (ms) or requestRate (req/s); default
	// the metric's kind. A threshold metric must say.
	// +kubebuilder:validation:Enum=errorRate;latency;requestRate
	// +optional
	Measure string `json:"measure,omitempty"`
	// Period of the datapoints, a multiple of 60s (1s, 5s, 10s, 30s for
	// high-resolution metrics); default 60s.
	// +optional
	Period Duration `json:"period,omitempty"`
	// Stat of TargetResponseTime per period, default Average (p99 and the
	// like also work).
	// +optional
	Stat string `json:"stat,omitempty"`
}
