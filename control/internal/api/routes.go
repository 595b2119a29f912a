package api

import (
	"slices"

	"github.com/switchyard/switchyard/codec"
	"github.com/switchyard/switchyard/control/internal/store"
	"github.com/switchyard/switchyard/edge/eval"
)

// table is the whole API. The OpenAPI document is generated from it and a
// test checks that every route is registered and documented.
func (a *API) table() []Route {
	return slices.Concat(a.coreRoutes(), a.codeRefRoutes(), a.gdprRoutes(), a.accessRoutes(), a.changeRoutes(), a.deliveryRoutes(), a.impactRoutes(), a.orgDeleteRoutes())
}

// coreRoutes are the organizations, projects, environments, flags, segments,
// experiments and end users.
func (a *API) coreRoutes() []Route {
	const p = Prefix
	pageQ := []string{"offset", "limit"}
	return []Route{
		// auth
		{Method: "POST", Path: p + "/auth/login", Tag: "auth", Summary: "Log in with email and password; returns a session token", Scope: Public, Body: LoginRequest{}, Resp: LoginResponse{}, h: a.login},
		{Method: "POST", Path: p + "/auth/logout", Tag: "auth", Summary: "End the current session", Scope: User, h: a.logout},
		{Method: "GET", Path: p + "/auth/me", Tag: "auth", Summary: "The caller: user and memberships, or access token", Scope: User, Resp: MeResponse{}, h: a.me},
		{Method: "PUT", Path: p + "/auth/password", Tag: "auth", Summary: "Change the caller's password (throttled like login); ends the user's other sessions", Scope: User, Body: PasswordRequest{}, h: a.changePassword},
		{Method: "POST", Path: p + "/auth/invitations/accept", Tag: "auth", Summary: "Accept an invitation: with a session the logged-in user joins; without one a new account is created with the password (the answer does not tell whether the email had an account)", Scope: Public, MaxBody: maxAcceptBody, Body: AcceptRequest{}, Resp: AcceptResponse{}, h: a.acceptInvitation},

		// organizations, members, tokens
		{Method: "GET", Path: p + "/orgs", Tag: "orgs", Summary: "Organizations the caller belongs to", Scope: User, Resp: List[store.Org]{}, h: a.listOrgs},
		{Method: "POST", Path: p + "/orgs", Tag: "orgs", Summary: "Create an organization (the caller becomes owner); instance administrators only unless OrgCreation is anyone", Scope: User, Status: 201, Body: NameKey{}, Resp: store.Org{}, h: a.createOrg},
		{Method: "GET", Path: p + "/orgs/{orgId}", Tag: "orgs", Summary: "Get an organization", Scope: Org, Action: ActRead, Resp: store.Org{}, h: a.getOrg},
		{Method: "PUT", Path: p + "/orgs/{orgId}", Tag: "orgs", Summary: "Rename an organization", Scope: Org, Action: ActOrgManage, Body: NameKey{}, Resp: store.Org{}, h: a.updateOrg},
		{Method: "GET", Path: p + "/orgs/{orgId}/members", Tag: "orgs", Summary: "List members", Scope: Org, Action: ActRead, Resp: List[MemberView]{}, h: a.listMembers},
		{Method: "POST", Path: p + "/orgs/{orgId}/members", Tag: "orgs", Summary: "Change an existing member's role (never above your own; the last owner stays owner); new members join by invitation", Scope: Org, Action: ActMemberManage, Body: MemberRequest{}, Resp: MemberView{}, h: a.setMember},
		{Method: "DELETE", Path: p + "/orgs/{orgId}/members/{userId}", Tag: "orgs", Summary: "Remove a member (not one above your role, not the last owner)", Scope: Org, Action: ActMemberManage, h: a.removeMember},
		{Method: "GET", Path: p + "/orgs/{orgId}/invitations", Tag: "orgs", Summary: "List invitations (never their tokens)", Scope: Org, Action: ActMemberManage, Resp: List[store.Invitation]{}, h: a.listInvitations},
		{Method: "POST", Path: p + "/orgs/{orgId}/invitations", Tag: "orgs", Summary: "Invite an email with a role (not above your own); the one-time token is shown only in this response", Scope: Org, Action: ActMemberManage, Status: 201, Body: InvitationRequest{}, Resp: InvitationCreated{}, h: a.createInvitation},
		{Method: "DELETE", Path: p + "/orgs/{orgId}/invitations/{id}", Tag: "orgs", Summary: "Revoke an invitation", Scope: Org, Action: ActMemberManage, h: a.deleteInvitation},
		{Method: "GET", Path: p + "/orgs/{orgId}/tokens", Tag: "orgs", Summary: "List access tokens (never their values)", Scope: Org, Action: ActTokenManage, Resp: List[store.AccessToken]{}, h: a.listTokens},
		{Method: "POST", Path: p + "/orgs/{orgId}/tokens", Tag: "orgs", Summary: "Create an access token (optional expiresAt); its value is shown only in this response; it acts with at most its creator's current role", Scope: Org, Action: ActTokenManage, Status: 201, Body: TokenRequest{}, Resp: TokenCreated{}, h: a.createToken},
		{Method: "DELETE", Path: p + "/orgs/{orgId}/tokens/{tokenId}", Tag: "orgs", Summary: "Revoke an access token (owner tokens: owners only)", Scope: Org, Action: ActTokenManage, h: a.deleteToken},

		// projects, environments
		{Method: "GET", Path: p + "/orgs/{orgId}/projects", Tag: "projects", Summary: "List projects", Scope: Org, Action: ActRead, Resp: List[store.Project]{}, h: a.listProjects},
		{Method: "POST", Path: p + "/orgs/{orgId}/projects", Tag: "projects", Summary: "Create a project", Scope: Org, Action: ActProjectManage, Status: 201, Body: NameKey{}, Resp: store.Project{}, h: a.createProject},
		{Method: "GET", Path: p + "/projects/{projectId}", Tag: "projects", Summary: "Get a project", Scope: Project, Action: ActRead, Resp: store.Project{}, h: a.getProject},
		{Method: "PUT", Path: p + "/projects/{projectId}", Tag: "projects", Summary: "Rename a project", Scope: Project, Action: ActProjectManage, Body: NameKey{}, Resp: store.Project{}, h: a.updateProject},
		{Method: "DELETE", Path: p + "/projects/{projectId}", Tag: "projects", Summary: "Delete a project without environments", Scope: Project, Action: ActProjectManage, h: a.deleteProject},
		{Method: "GET", Path: p + "/projects/{projectId}/envs", Tag: "environments", Summary: "List environments", Scope: Project, Action: ActRead, Resp: List[EnvView]{}, h: a.listEnvs},
		{Method: "POST", Path: p + "/projects/{projectId}/envs", Tag: "environments", Summary: "Create an environment with new server and client secrets", Scope: Project, Action: ActProjectManage, Status: 201, Body: EnvRequest{}, Resp: EnvView{}, h: a.createEnv},
		{Method: "GET", Path: p + "/envs/{envId}", Tag: "environments", Summary: "Get an environment, its secrets and publish state", Scope: Env, Action: ActRead, Resp: EnvView{}, h: a.getEnv},
		{Method: "PUT", Path: p + "/envs/{envId}", Tag: "environments", Summary: "Rename an environment", Scope: Env, Action: ActEnvManage, Body: EnvRequest{}, Resp: EnvView{}, h: a.updateEnv},
		{Method: "DELETE", Path: p + "/envs/{envId}", Tag: "environments", Summary: "Delete an environment and everything in it", Scope: Env, Action: ActEnvManage, h: a.deleteEnv},
		{Method: "POST", Path: p + "/envs/{envId}/secrets/{type}/rotate", Tag: "environments", Summary: "Add a new server or client secret; the replaced one keeps working until expiresIn (default 24h, \"now\" ends it at once)", Scope: Env, Action: ActSecretRotate, Body: RotateRequest{}, Resp: EnvView{}, h: a.rotateSecret},

		// flags
		{Method: "GET", Path: p + "/envs/{envId}/flags", Tag: "flags", Summary: "List flags (search, tag, status filters; paging)", Scope: Env, Action: ActRead, Query: append([]string{"q", "tag", "status"}, pageQ...), Resp: List[codec.Flag]{}, h: a.listFlags},
		{Method: "POST", Path: p + "/envs/{envId}/flags", Tag: "flags", Summary: "Create a flag", Scope: Env, Action: ActFlagWrite, Status: 201, Body: codec.Flag{}, Resp: codec.Flag{}, h: a.createFlag},
		{Method: "GET", Path: p + "/envs/{envId}/flags/{key}", Tag: "flags", Summary: "Get a flag by key", Scope: Env, Action: ActRead, Resp: codec.Flag{}, h: a.getFlag},
		{Method: "PUT", Path: p + "/envs/{envId}/flags/{key}", Tag: "flags", Summary: "Replace a flag; version must be the version read (409 if stale)", Scope: Env, Action: ActFlagWrite, Body: codec.Flag{}, Resp: codec.Flag{}, h: a.updateFlag},
		{Method: "DELETE", Path: p + "/envs/{envId}/flags/{key}", Tag: "flags", Summary: "Delete an archived flag", Scope: Env, Action: ActFlagWrite, Query: []string{"version"}, h: a.deleteFlag},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/toggle", Tag: "flags", Summary: "Turn a flag on or off (flips it when isEnabled is omitted)", Scope: Env, Action: ActFlagToggle, Body: ToggleRequest{}, Resp: codec.Flag{}, h: a.toggleFlag},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/archive", Tag: "flags", Summary: "Archive a flag", Scope: Env, Action: ActFlagWrite, Body: VersionRequest{}, Resp: codec.Flag{}, h: a.archiveFlag},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/restore", Tag: "flags", Summary: "Restore an archived flag", Scope: Env, Action: ActFlagWrite, Body: VersionRequest{}, Resp: codec.Flag{}, h: a.restoreFlag},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/clone", Tag: "flags", Summary: "Clone a flag under a new key", Scope: Env, Action: ActFlagWrite, Status: 201, Body: CloneRequest{}, Resp: codec.Flag{}, h: a.cloneFlag},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/evaluate", Tag: "flags", Summary: "Preview: evaluate the flag for an end user with the edge's evaluator and explain the result", Scope: Env, Action: ActRead, Body: codec.EndUser{}, Resp: eval.Explanation{}, h: a.evaluateFlag},
		{Method: "POST", Path: p + "/envs/{envId}/flags/{key}/copy", Tag: "flags", Summary: "Copy a flag to another environment of the organization", Scope: Env, Action: ActRead, Body: CopyRequest{}, Resp: codec.Flag{}, h: a.copyFlag},

		// segments
		{Method: "GET", Path: p + "/envs/{envId}/segments", Tag: "segments", Summary: "List segments", Scope: Env, Action: ActRead, Query: append([]string{"q", "status"}, pageQ...), Resp: List[codec.Segment]{}, h: a.listSegments},
		{Method: "POST", Path: p + "/envs/{envId}/segments", Tag: "segments", Summary: "Create a segment", Scope: Env, Action: ActSegmentWrite, Status: 201, Body: codec.Segment{}, Resp: codec.Segment{}, h: a.createSegment},
		{Method: "GET", Path: p + "/envs/{envId}/segments/{id}", Tag: "segments", Summary: "Get a segment", Scope: Env, Action: ActRead, Resp: codec.Segment{}, h: a.getSegment},
		{Method: "PUT", Path: p + "/envs/{envId}/segments/{id}", Tag: "segments", Summary: "Replace a segment; version must be the version read; the flags using it are republished", Scope: Env, Action: ActSegmentWrite, Body: codec.Segment{}, Resp: codec.Segment{}, h: a.updateSegment},
		{Method: "DELETE", Path: p + "/envs/{envId}/segments/{id}", Tag: "segments", Summary: "Delete a segment no flag uses", Scope: Env, Action: ActSegmentWrite, Query: []string{"version"}, h: a.deleteSegment},
		{Method: "POST", Path: p + "/envs/{envId}/segments/{id}/archive", Tag: "segments", Summary: "Archive a segment no flag uses", Scope: Env, Action: ActSegmentWrite, Body: VersionRequest{}, Resp: codec.Segment{}, h: a.archiveSegment},
		{Method: "POST", Path: p + "/envs/{envId}/segments/{id}/restore", Tag: "segments", Summary: "Restore an archived segment", Scope: Env, Action: ActSegmentWrite, Body: VersionRequest{}, Resp: codec.Segment{}, h: a.restoreSegment},
		{Method: "GET", Path: p + "/envs/{envId}/segments/{id}/flags", Tag: "segments", Summary: "Flags that use the segment", Scope: Env, Action: ActRead, Resp: List[codec.Flag]{}, h: a.segmentFlags},

		// metrics, experiments
		{Method: "GET", Path: p + "/envs/{envId}/metrics", Tag: "experiments", Summary: "List metrics", Scope: Env, Action: ActRead, Resp: List[store.Metric]{}, h: a.listMetrics},
		{Method: "POST", Path: p + "/envs/{envId}/metrics", Tag: "experiments", Summary: "Create a metric", Scope: Env, Action: ActExperimentWrite, Status: 201, Body: store.Metric{}, Resp: store.Metric{}, h: a.createMetric},
		{Method: "GET", Path: p + "/envs/{envId}/metrics/{id}", Tag: "experiments", Summary: "Get a metric", Scope: Env, Action: ActRead, Resp: store.Metric{}, h: a.getMetric},
		{Method: "PUT", Path: p + "/envs/{envId}/metrics/{id}", Tag: "experiments", Summary: "Replace a metric (version must be the version read)", Scope: Env, Action: ActExperimentWrite, Body: store.Metric{}, Resp: store.Metric{}, h: a.updateMetric},
		{Method: "DELETE", Path: p + "/envs/{envId}/metrics/{id}", Tag: "experiments", Summary: "Delete a metric no experiment uses", Scope: Env, Action: ActExperimentWrite, h: a.deleteMetric},
		{Method: "GET", Path: p + "/envs/{envId}/experiments", Tag: "experiments", Summary: "List experiments", Scope: Env, Action: ActRead, Resp: List[store.Experiment]{}, h: a.listExperiments},
		{Method: "POST", Path: p + "/envs/{envId}/experiments", Tag: "experiments", Summary: "Create an experiment on a flag", Scope: Env, Action: ActExperimentWrite, Status: 201, Body: ExperimentRequest{}, Resp: store.Experiment{}, h: a.createExperiment},
		{Method: "GET", Path: p + "/envs/{envId}/experiments/{id}", Tag: "experiments", Summary: "Get an experiment", Scope: Env, Action: ActRead, Resp: store.Experiment{}, h: a.getExperiment},
		{Method: "POST", Path: p + "/envs/{envId}/experiments/{id}/start", Tag: "experiments", Summary: "Start an experiment", Scope: Env, Action: ActExperimentWrite, Body: VersionRequest{}, Resp: store.Experiment{}, h: a.startExperiment},
		{Method: "POST", Path: p + "/envs/{envId}/experiments/{id}/stop", Tag: "experiments", Summary: "Stop a running experiment", Scope: Env, Action: ActExperimentWrite, Body: VersionRequest{}, Resp: store.Experiment{}, h: a.stopExperiment},
		{Method: "GET", Path: p + "/envs/{envId}/experiments/{id}/results", Tag: "experiments", Summary: "Results of a started experiment (analytics; SRM against the flag's rollout split)", Scope: Env, Action: ActRead, Resp: ExperimentResults{}, h: a.experimentResults},
		{Method: "DELETE", Path: p + "/envs/{envId}/experiments/{id}", Tag: "experiments", Summary: "Delete an experiment that is not running", Scope: Env, Action: ActExperimentWrite, h: a.deleteExperiment},

		// end users
		{Method: "GET", Path: p + "/envs/{envId}/end-users", Tag: "end-users", Summary: "List end users (search by key or name; paging)", Scope: Env, Action: ActRead, Query: append([]string{"q"}, pageQ...), Resp: List[codec.EndUser]{}, h: a.listEndUsers},
		{Method: "GET", Path: p + "/envs/{envId}/end-users/{keyId}", Tag: "end-users", Summary: "Get an end user", Scope: Env, Action: ActRead, Resp: codec.EndUser{}, h: a.getEndUser},
		{Method: "GET", Path: p + "/envs/{envId}/end-user-properties", Tag: "end-users", Summary: "Property names seen on end users", Scope: Env, Action: ActRead, Resp: List[string]{}, h: a.endUserProps},
	}
}
