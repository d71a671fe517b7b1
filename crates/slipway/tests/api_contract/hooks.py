"""Schemathesis hooks of the API contract test (`tests/api_contract.rs`).

Two things a JSON schema cannot carry, and one thing the run must not do:

- `filter_failure`: a few refusals of a schema-valid request are the server
  deciding on something the document states in words only, each named below by
  its error code. Only those refusals (ST202, by code) are forgiven, and a
  "created resource not found" (ST302) whose link put a project's ID where the
  API takes its slug; every other check stays as it is.
- `yaml_stream`: `GET …/manifests` answers a YAML stream of several documents,
  which YAML allows but schemathesis' own reader refuses.
- `before_call`: a run must not revoke the token it runs with, nor delete the
  seeded workspace, project or members it works in; such a request is sent to
  a seeded throwaway instead (`SLIPWAY_CONTRACT_*` from the test).
"""

import os

import schemathesis
import yaml

# Error codes that may refuse a schema-valid request, and why the schema cannot rule it out.
STATED_IN_WORDS = {
    # The generated hostname `<project>-<env>-<workspace>` must fit one DNS label: a limit on
    # the sum of three lengths, two of them in the path and one in the body.
    "HOSTNAME_TOO_LONG",
    # Repository URLs: git's URL, scp-like and local-path grammar and the platform's policy on
    # hosts and addresses (loopback, private ranges, IPv4 spellings like `0x7f.1`).
    "INVALID_REPO_URL",
    # Memory and CPU figures are strings with units; their range (16 MiB to the platform's
    # maximum, 0.01 cores to its maximum) is not a pattern.
    "INVALID_RESOURCES",
    # A key is remembered with the request it first came with: state, not shape.
    "IDEMPOTENCY_KEY_REUSED",
    # A rollback to a release whose artifact release retention removed (the run's own
    # deployments and rollbacks push older releases past the kept ten): state, not shape.
    "RELEASE_PRUNED",
}


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    if failure.code == "ST302":
        # The API addresses a project by its slug (`{project}`), never by its ID; the stateful
        # phase's link inference may still feed the created project's `id` into `{project}`, a
        # link the document does not state. Only that case is forgiven.
        project = (case.path_parameters or {}).get("project", "")
        return not str(project).startswith("prj_")
    if failure.code != "ST202":
        return True
    try:
        code = response.json()["error"]["code"]
    except Exception:
        return True
    return code not in STATED_IN_WORDS


@schemathesis.deserializer("text/yaml")
def yaml_stream(ctx, response):
    # Every document must parse; the document describes the body as the text it is.
    for _ in yaml.safe_load_all(response.text):
        pass
    return response.text


def _env(name):
    return os.environ.get(f"SLIPWAY_CONTRACT_{name}", "")


# Operation, path parameter, values to spare, and what to send instead.
SPARED = [
    ("DELETE /v1/tokens/{id}", "id", {_env("RUN_TOKEN_ID")}, _env("SPARE_TOKEN_ID")),
    ("DELETE /v1/workspaces/{ws}", "ws", {"acme"}, "doomed"),
    ("DELETE /v1/workspaces/{ws}/projects/{project}", "project", {"web"}, "doomed"),
    ("DELETE /v1/workspaces/{ws}/members/{username}", "username", {"admin", "vic"}, "doomed-user"),
    ("PATCH /v1/workspaces/{ws}/members/{username}", "username", {"admin", "vic"}, "doomed-user"),
]


@schemathesis.hook
def before_call(ctx, case, kwargs):
    for label, name, spared, instead in SPARED:
        if case.operation.label == label and case.path_parameters and case.path_parameters.get(name) in spared:
            case.path_parameters[name] = instead
