// govapi.ts: the governance and settings routes of the API (docs/access.md):
// groups, policies, permissions of an organization or project, renaming and
// deleting organizations, projects and environments, protection settings,
// secret rotation with an expiry. Kept apart from api.ts; the same request().
import { EnvSettings, Env, forgetSettings, List, Org, Permissions, Project, request } from './api';

export interface AccessGroup {
  id: string; orgId: string; name: string; description: string; members: string[] | null; createdAt: number; version: number;
}
export interface Statement { effect: 'allow' | 'deny' | string; actions: string[]; resources: string[] }
export interface Policy {
  id: string; orgId: string; name: string; description: string; statements: Statement[] | null;
  principals: string[] | null; createdAt: number; version: number;
}
export interface GroupBody { name: string; description: string; members: string[]; version?: number }
export interface PolicyBody { name: string; description: string; statements: Statement[]; principals: string[]; version?: number }
export interface ProtectionBody { requireComment: boolean; protected: boolean; requiredApprovals: number; approvers: string[] }

const v1 = '/api/v1';
const enc = encodeURIComponent;

export const gov = {
  actions: () => request<List<string>>('GET', `${v1}/access/actions`),
  orgPermissions: (org: string) => request<Permissions>('GET', `${v1}/orgs/${enc(org)}/permissions`),
  projectPermissions: (project: string) => request<Permissions>('GET', `${v1}/projects/${enc(project)}/permissions`),

  groups: (org: string) => request<List<AccessGroup>>('GET', `${v1}/orgs/${enc(org)}/groups`),
  createGroup: (org: string, g: GroupBody) => request<AccessGroup>('POST', `${v1}/orgs/${enc(org)}/groups`, g),
  updateGroup: (org: string, id: string, g: GroupBody) => request<AccessGroup>('PUT', `${v1}/orgs/${enc(org)}/groups/${enc(id)}`, g),
  deleteGroup: (org: string, id: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}/groups/${enc(id)}`),
  policies: (org: string) => request<List<Policy>>('GET', `${v1}/orgs/${enc(org)}/policies`),
  createPolicy: (org: string, p: PolicyBody) => request<Policy>('POST', `${v1}/orgs/${enc(org)}/policies`, p),
  updatePolicy: (org: string, id: string, p: PolicyBody) => request<Policy>('PUT', `${v1}/orgs/${enc(org)}/policies/${enc(id)}`, p),
  deletePolicy: (org: string, id: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}/policies/${enc(id)}`),

  org: (org: string) => request<Org>('GET', `${v1}/orgs/${enc(org)}`),
  renameOrg: (org: string, name: string, key: string, version: number) =>
    request<Org>('PUT', `${v1}/orgs/${enc(org)}`, { name, key, version }),
  deleteOrg: (org: string) => request<void>('DELETE', `${v1}/orgs/${enc(org)}`),
  project: (project: string) => request<Project>('GET', `${v1}/projects/${enc(project)}`),
  renameProject: (project: string, name: string, key: string, version: number) =>
    request<Project>('PUT', `${v1}/projects/${enc(project)}`, { name, key, version }),
  deleteProject: (project: string) => request<void>('DELETE', `${v1}/projects/${enc(project)}`),
  renameEnv: (env: string, name: string, key: string, description: string) =>
    request<Env>('PUT', `${v1}/envs/${enc(env)}`, { name, key, description }),
  deleteEnv: (env: string) => request<void>('DELETE', `${v1}/envs/${enc(env)}`),
  // expiresIn: "now" or a Go duration up to 720h; the replaced secret works until then
  rotateSecret: (env: string, type: string, expiresIn: string) =>
    request<Env>('POST', `${v1}/envs/${enc(env)}/secrets/${enc(type)}/rotate`, { expiresIn }),
  putProtection: (env: string, b: ProtectionBody) => request<EnvSettings>('PUT', `${v1}/envs/${enc(env)}/workflow-settings`, b).finally(() => forgetSettings(env)),
};
