// Generated from openapi.yaml by `make openapi`: edit openapi.yaml, then run it.
// OpenAPITests checks that the two are the same.

/// The OpenAPI 3.1 description of the HTTP API, served at `GET /v1/openapi.yaml`.
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: RaftHost HTTP API
  version: "1"
  summary: The HTTP/JSON API every RaftHost node serves on its `http` address.
  description: |
    Every node serves the whole API (HTTP/1.1, keep-alive). Commands and linearizable reads
    are served by the group's leader whichever node receives them: a follower forwards them
    through the native client protocol with a client id and sequence number, so a retried
    command is applied once. Each request has the cluster's `requestTimeout` to complete; a
    command that cannot commit in time is answered with 503 and its outcome is unknown, never
    with a false success.

    Path parameters are one path segment each, percent-decoded (send `/` in a key as `%2F`).
    Errors are JSON `{"error": "..."}`: 400 bad input, 404 unknown path or group, 405 wrong
    method (with an `Allow` header), 413 body over `http.maxBodySize`, 415 unsupported content
    type, 502 an answer of the group that could not be decoded, 503 unavailable (no leader, no
    quorum within `requestTimeout`).

    A plugin's own routes are served under `/v1/groups/{group}/` for every group that runs
    the plugin, and the first group's also under `/v1/`: the key/value routes below are those
    of the `KeyValueStore` plugin (`/v1/kv/...` reaches the first group of `cluster.yaml` when
    it runs `KeyValueStore`), the lock routes those of `LockService`.
  license:
    name: Apache-2.0
    identifier: Apache-2.0
servers:
  - url: http://127.0.0.1:7301
    description: node n1 of the repository's cluster.yaml
tags:
  - name: operators
    description: The web console, the cluster view, status, metrics and this description.
  - name: plugins
    description: Any plugin, through its commands and queries.
  - name: key/value
    description: The routes of the KeyValueStore plugin.
  - name: locks
    description: The routes of the LockService plugin.
  - name: membership
    description: A group's members and leadership (answered by the leader; other nodes redirect).

paths:
  /:
    get:
      tags: [operators]
      operationId: console
      summary: The web console
      description: |
        One self-contained HTML page (no external assets) that polls `GET /v1/cluster` of the
        node that served it once a second: nodes (reachable or not), per group role, term,
        leader, commit, applied and snapshot index, replication lag per follower, proposals and
        reads per second, recent leader changes; and a key browser for key/value groups.
      responses:
        "200":
          description: The console page.
          content:
            text/html:
              schema: { type: string }
  /v1/cluster:
    get:
      tags: [operators]
      operationId: cluster
      summary: The cluster as the answering node sees it
      description: |
        The answering node's own status and every other configured node's `GET /v1/status`,
        asked for at once with a short timeout (under a second); a node that does not answer
        in time is listed with `reachable: false`. Per group, the leader is the reachable node
        that leads in the highest term any reachable node reports.
      responses:
        "200":
          description: Every configured node, reachable or not, and every group.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/ClusterView" }
  /v1/openapi.yaml:
    get:
      tags: [operators]
      operationId: openAPI
      summary: This description
      responses:
        "200":
          description: The OpenAPI 3.1 description of the API, as in the repository's `openapi.yaml`.
          content:
            application/yaml:
              schema:
                type: object
                required: [openapi, info, paths, components]
                properties:
                  openapi: { const: 3.1.0 }
  /v1/status:
    get:
      tags: [operators]
      operationId: status
      summary: This node's view of each group
      responses:
        "200":
          description: The node's id and, per group, its role, term, leader and indexes.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/NodeStatus" }
  /metrics:
    get:
      tags: [operators]
      operationId: metrics
      summary: Prometheus metrics
      description: |
        The text exposition format of the node's swift-prometheus registry (`rafthost_*`,
        labelled by node and group; see the README's metrics section).
      responses:
        "200":
          description: The metrics.
          content:
            text/plain:
              schema: { type: string }
        "404":
          description: The process records its metrics through another swift-metrics backend.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Error" }

  /v1/groups/{group}/command:
    post:
      tags: [plugins]
      operationId: command
      summary: Apply a command of the group's plugin
      description: |
        The body is the plugin's command in its binary encoding (`application/octet-stream`,
        answered in kind) or, where the plugin's `Command` and `Response` are `Codable`, as
        JSON (`application/json`; 415 for a plugin that is not). With `Raft-Client-ID` and
        `Raft-Sequence` the command is applied at most once however often the same pair is
        sent, to any node.
      parameters:
        - $ref: "#/components/parameters/group"
        - $ref: "#/components/parameters/clientID"
        - $ref: "#/components/parameters/sequence"
      requestBody:
        required: true
        content:
          application/json:
            schema:
              description: |
                The plugin's command as JSON, e.g. `{"put":{"key":"k","value":"v"}}` for
                KeyValueStore: its shape is the plugin's, so JSON the plugin cannot decode is 400.
            examples:
              keyValuePut:
                summary: A KeyValueStore put (group kv)
                value: { put: { key: k, value: v } }
          application/octet-stream:
            schema: { type: string, format: binary }
      responses:
        "200": { $ref: "#/components/responses/PluginAnswer" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": { $ref: "#/components/responses/NotFound" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "409":
          description: |
            The client's session already moved past this `Raft-Sequence`: whether that command
            was applied is no longer known (send each command with a new sequence number).
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Error" }
        "415": { $ref: "#/components/responses/UnsupportedMediaType" }
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/groups/{group}/query:
    post:
      tags: [plugins]
      operationId: query
      summary: Answer a query of the group's plugin
      description: As for commands; a query is not written to the log.
      parameters:
        - $ref: "#/components/parameters/group"
        - $ref: "#/components/parameters/consistency"
      requestBody:
        required: true
        content:
          application/json:
            schema:
              description: |
                The plugin's query as JSON, e.g. `{"get":{"key":"k"}}` for KeyValueStore: its
                shape is the plugin's, so JSON the plugin cannot decode is 400.
            examples:
              keyValueGet:
                summary: A KeyValueStore get (group kv)
                value: { get: { key: k } }
          application/octet-stream:
            schema: { type: string, format: binary }
      responses:
        "200": { $ref: "#/components/responses/PluginAnswer" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": { $ref: "#/components/responses/NotFound" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "415": { $ref: "#/components/responses/UnsupportedMediaType" }
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }

  /v1/groups/{group}/kv/{key}:
    parameters:
      - $ref: "#/components/parameters/group"
      - $ref: "#/components/parameters/key"
    get: &kvGet
      tags: [key/value]
      summary: Read a key
      parameters:
        - $ref: "#/components/parameters/consistency"
      responses:
        "200":
          description: The value, as stored.
          content:
            application/octet-stream:
              schema: { type: string }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": &noKey
          description: No such key (`{"error":"ErrNoKey"}`), or no such path or group.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Error" }
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }
    put: &kvPut
      tags: [key/value]
      summary: Write a key
      requestBody:
        required: false
        description: The value, UTF-8 text; no body writes the empty value.
        content:
          text/plain:
            schema: { type: string }
      responses: &kvWriteResponses
        "200": { $ref: "#/components/responses/Ok" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": { $ref: "#/components/responses/NotFound" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }
    delete: &kvDelete
      tags: [key/value]
      summary: Delete a key
      responses:
        "200": { $ref: "#/components/responses/Ok" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": *noKey
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/groups/{group}/kv/{key}/append:
    parameters:
      - $ref: "#/components/parameters/group"
      - $ref: "#/components/parameters/key"
    post: &kvAppend
      tags: [key/value]
      summary: Append to a key's value (a missing key counts as empty)
      requestBody:
        required: false
        description: The text to append, UTF-8; no body appends nothing (and creates a missing key, empty).
        content:
          text/plain:
            schema: { type: string }
      responses: *kvWriteResponses
  /v1/groups/{group}/kv/{key}/cas:
    parameters:
      - $ref: "#/components/parameters/group"
      - $ref: "#/components/parameters/key"
    post: &kvCompareAndSwap
      tags: [key/value]
      summary: Compare-and-swap a key's value
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [new]
              properties:
                expected:
                  oneOf: [{ type: string }, { type: "null" }]
                  description: The value the key must have; `null` (or missing) for a missing key.
                new: { type: string }
      responses:
        "200":
          description: Swapped.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/CompareAndSwapAnswer" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": { $ref: "#/components/responses/NotFound" }
        "409":
          description: Not swapped; `current` is the key's value (`null` for a missing key).
          content:
            application/json:
              schema: { $ref: "#/components/schemas/CompareAndSwapAnswer" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/kv/{key}:
    description: The first group's key/value routes (when it runs KeyValueStore).
    parameters:
      - $ref: "#/components/parameters/key"
    get: *kvGet
    put: *kvPut
    delete: *kvDelete
  /v1/kv/{key}/append:
    parameters:
      - $ref: "#/components/parameters/key"
    post: *kvAppend
  /v1/kv/{key}/cas:
    parameters:
      - $ref: "#/components/parameters/key"
    post: *kvCompareAndSwap

  /v1/groups/{group}/locks/{lock}:
    parameters:
      - $ref: "#/components/parameters/lockGroup"
      - $ref: "#/components/parameters/lock"
    get:
      tags: [locks]
      operationId: lockHolder
      summary: Who holds the lock
      parameters:
        - $ref: "#/components/parameters/consistency"
      responses:
        "200":
          description: The holder.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/LockHolder" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404":
          description: Nobody holds the lock (`{"error":"no holder"}`), or no such path or group.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Error" }
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/groups/{group}/locks/{lock}/acquire:
    parameters:
      - $ref: "#/components/parameters/lockGroup"
      - $ref: "#/components/parameters/lock"
    post:
      tags: [locks]
      operationId: lockAcquire
      summary: Acquire the lock for a lease
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [owner, leaseMs]
              properties:
                owner: { type: string }
                leaseMs: { type: integer, minimum: 0, maximum: 18446744073709551615 }
      responses: &lockResponses
        "200":
          description: The lock's holder after the command, or `{"released":true}`.
          content:
            application/json:
              schema:
                oneOf:
                  - $ref: "#/components/schemas/LockHolder"
                  - type: object
                    required: [released]
                    properties:
                      released: { const: true }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": { $ref: "#/components/responses/NotFound" }
        "409":
          description: "`held` (someone else holds the lock) or `not holder` (wrong owner or token, or the lease ran out)."
          content:
            application/json:
              schema:
                type: object
                required: [error, holder]
                properties:
                  error: { type: string, enum: [held, not holder] }
                  holder:
                    oneOf:
                      - $ref: "#/components/schemas/LockHolder"
                      - type: "null"
        "413": { $ref: "#/components/responses/TooLarge" }
        "502": { $ref: "#/components/responses/BadGateway" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/groups/{group}/locks/{lock}/renew:
    parameters:
      - $ref: "#/components/parameters/lockGroup"
      - $ref: "#/components/parameters/lock"
    post:
      tags: [locks]
      operationId: lockRenew
      summary: Renew the lease of a held lock
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [owner, token, leaseMs]
              properties:
                owner: { type: string }
                token: { type: integer, minimum: 0, maximum: 18446744073709551615 }
                leaseMs: { type: integer, minimum: 0, maximum: 18446744073709551615 }
      responses: *lockResponses
  /v1/groups/{group}/locks/{lock}/release:
    parameters:
      - $ref: "#/components/parameters/lockGroup"
      - $ref: "#/components/parameters/lock"
    post:
      tags: [locks]
      operationId: lockRelease
      summary: Release a held lock
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [owner, token]
              properties:
                owner: { type: string }
                token: { type: integer, minimum: 0, maximum: 18446744073709551615 }
      responses: *lockResponses

  /v1/groups/{group}/members:
    get:
      tags: [membership]
      operationId: listMembers
      summary: The group's members as this node knows them
      description: |
        Voters, learners and (during a joint configuration) the outgoing voters, with their
        addresses and, on the leader, the log index each holds.
      parameters:
        - $ref: "#/components/parameters/group"
      responses:
        "200":
          description: The members.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Members" }
        "404": { $ref: "#/components/responses/NotFound" }
    post:
      tags: [membership]
      operationId: addMember
      summary: Add a member
      description: |
        The new member joins as a learner; unless `learner` is true it is promoted to a voter
        once it holds what the leader had committed. Addresses may be left out for a node the
        node's `cluster.yaml` lists. Answered once applied.
      parameters:
        - $ref: "#/components/parameters/group"
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [name]
              properties:
                name: { type: string, description: "The node's name; never one that was removed." }
                peer: { type: [string, "null"], description: "host:port of its peer port (null: not given)." }
                client: { type: [string, "null"], description: "host:port of its client port (null: not given)." }
                http: { type: [string, "null"], description: "host:port of its HTTP port (null: not given)." }
                learner: { type: [boolean, "null"], default: false, description: "null: false." }
            examples:
              add:
                summary: Add n4 as a voter
                value: { name: n4, peer: "127.0.0.1:7004", client: "127.0.0.1:7104", http: "127.0.0.1:7204" }
      responses: &membershipChange
        "200":
          description: Applied; the members now.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Members" }
        "307": { $ref: "#/components/responses/ToLeader" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": { $ref: "#/components/responses/NotFound" }
        "409": { $ref: "#/components/responses/Conflict" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/groups/{group}/members/{name}/promote:
    post:
      tags: [membership]
      operationId: promoteMember
      summary: Make a caught-up learner a voter
      parameters:
        - $ref: "#/components/parameters/group"
        - $ref: "#/components/parameters/memberName"
      responses: *membershipChange
  /v1/groups/{group}/members/{name}:
    delete:
      tags: [membership]
      operationId: removeMember
      summary: Remove a member (its id is never used again in the group)
      parameters:
        - $ref: "#/components/parameters/group"
        - $ref: "#/components/parameters/memberName"
      responses: *membershipChange
  /v1/groups/{group}/leader:
    get:
      tags: [membership]
      operationId: getLeader
      summary: The group's leader as this node knows it
      parameters:
        - $ref: "#/components/parameters/group"
      responses:
        "200":
          description: The leader (`null` when none is known).
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Leader" }
        "404": { $ref: "#/components/responses/NotFound" }
    post:
      tags: [membership]
      operationId: transferLeader
      summary: Hand the leadership to a voter
      description: |
        `{"to": "n2"}`, or `{}` for the most up-to-date follower. The leader stops taking
        commands for at most an election timeout while the target catches up; answered once
        the target leads.
      parameters:
        - $ref: "#/components/parameters/group"
      requestBody:
        required: false
        content:
          application/json:
            schema:
              type: object
              properties:
                to: { type: [string, "null"], description: "The voter to hand over to; null or absent: the most up-to-date follower." }
      responses:
        "200":
          description: The new leader.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Leader" }
        "307": { $ref: "#/components/responses/ToLeader" }
        "400": { $ref: "#/components/responses/BadRequest" }
        "404": { $ref: "#/components/responses/NotFound" }
        "409": { $ref: "#/components/responses/Conflict" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/groups/{group}/snapshot:
    get:
      tags: [membership]
      operationId: saveSnapshot
      summary: A backup of the group
      description: |
        The leader's state once it has applied everything committed before the request (a
        ReadIndex round), with its index, term and members, in the checksummed snapshot file
        format that `rafthost restore` reads (`raftctl snapshot save` writes it to a file).
      parameters:
        - $ref: "#/components/parameters/group"
      responses:
        "200":
          description: The backup file.
          content:
            application/octet-stream:
              schema: { type: string, format: binary }
        "307": { $ref: "#/components/responses/ToLeader" }
        "404": { $ref: "#/components/responses/NotFound" }
        "503": { $ref: "#/components/responses/Unavailable" }
components:
  parameters:
    group:
      name: group
      in: path
      required: true
      description: A group of `cluster.yaml` (404 for any other).
      schema: { type: string, examples: [kv] }
    lockGroup:
      name: group
      in: path
      required: true
      description: A group of `cluster.yaml` that runs LockService (404 for any other).
      schema: { type: string, examples: [locks] }
    key:
      name: key
      in: path
      required: true
      description: The key, one path segment, percent-decoded; empty is 400.
      schema: { type: string }
    memberName:
      name: name
      in: path
      required: true
      description: A member's name (`n4`).
      schema: { type: string }
    lock:
      name: lock
      in: path
      required: true
      description: The lock's name, one path segment, percent-decoded; empty is 400.
      schema: { type: string }
    consistency:
      name: consistency
      in: query
      required: false
      description: |
        `linearizable` (the default): served by the leader after a ReadIndex round (or from
        its lease). `stale`: this node's replica, possibly behind.
      schema: { type: string, enum: [linearizable, stale], default: linearizable }
    clientID:
      name: Raft-Client-ID
      in: header
      required: false
      description: The client's id, a decimal number from 1 to 2^64-1; send it with `Raft-Sequence` or not at all.
      schema: { type: string, pattern: "^[0-9]+$" }
    sequence:
      name: Raft-Sequence
      in: header
      required: false
      description: The client's sequence number of this command (1, 2, 3, ...); send it with `Raft-Client-ID`.
      schema: { type: string, pattern: "^[0-9]+$" }

  responses:
    Ok:
      description: Done.
      content:
        application/json:
          schema:
            type: object
            required: [ok]
            properties:
              ok: { const: true }
    PluginAnswer:
      description: The plugin's response, in the form of the request (JSON or binary).
      content:
        application/json:
          schema: { description: "The plugin's response as JSON." }
        application/octet-stream:
          schema: { type: string, format: binary }
    BadRequest:
      description: Bad input (a body or parameter the route cannot take).
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    NotFound:
      description: No such path, or no such group.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    TooLarge:
      description: The body exceeds `http.maxBodySize`.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    UnsupportedMediaType:
      description: Neither `application/octet-stream` nor `application/json`, or JSON for a plugin whose types are not `Codable`.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    BadGateway:
      description: The group answered something that could not be decoded.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    Conflict:
      description: The change cannot be made as asked (the reason says why); retrying will not help.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    ToLeader:
      description: This node does not lead the group; `Location` is the same path on the leader.
      headers:
        Location:
          schema: { type: string }
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    Unavailable:
      description: |
        No leader or no quorum within `requestTimeout` (`{"error":"unavailable: ..."}`); the
        outcome of a command is unknown: retry it with the same `Raft-Client-ID` and
        `Raft-Sequence`.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }

  schemas:
    Members:
      type: object
      required: [group, joint, members, removed]
      properties:
        group: { type: string }
        leader: { type: [string, "null"] }
        joint: { type: boolean, description: "Between two configurations (a change of several voters)." }
        members:
          type: array
          items:
            type: object
            required: [name, id, role, isLeader, peer, client, http]
            properties:
              name: { type: string }
              id: { $ref: "#/components/schemas/Count" }
              role: { type: string, enum: [voter, learner, outgoing] }
              isLeader: { type: boolean }
              peer: { type: string }
              client: { type: string }
              http: { type: string }
              matchIndex: { $ref: "#/components/schemas/Count", description: "On the leader: the highest index the member holds." }
        removed:
          type: array
          description: Ids removed from the group, never used again.
          items: { $ref: "#/components/schemas/Count" }
    Leader:
      type: object
      required: [group]
      properties:
        group: { type: string }
        leader: { type: [string, "null"] }
    Error:
      type: object
      required: [error]
      properties:
        error: { type: string }
    NodeStatus:
      type: object
      required: [node, groups]
      properties:
        node: { type: string, description: "The node's id (`n1`)." }
        groups:
          type: array
          items: { $ref: "#/components/schemas/GroupStatus" }
    GroupStatus:
      type: object
      required: [name, stateMachine, role, term, leader, commitIndex, appliedIndex, lastIndex, snapshotIndex]
      properties:
        name: { type: string }
        stateMachine: { type: string, description: "The plugin's name, as in `cluster.yaml`." }
        role: { type: string, enum: [follower, preCandidate, candidate, leader] }
        term: { $ref: "#/components/schemas/Count" }
        leader:
          type: [string, "null"]
          description: The leader's node id; `null` when none is known.
        commitIndex: { $ref: "#/components/schemas/Count" }
        appliedIndex: { $ref: "#/components/schemas/Count" }
        lastIndex: { $ref: "#/components/schemas/Count" }
        snapshotIndex: { $ref: "#/components/schemas/Count" }
        proposals: { $ref: "#/components/schemas/Count", description: "Commands handed to this node's replica since it started." }
        reads: { $ref: "#/components/schemas/Count", description: "Queries handed to this node's replica since it started." }
        replicationLag:
          type: object
          description: On the leader, entries each follower (by node id) is behind its last index; `{}` elsewhere.
          additionalProperties: { $ref: "#/components/schemas/Count" }
        leaderChanges:
          type: array
          description: The latest leaders this node learned of, oldest first.
          items: { $ref: "#/components/schemas/LeaderChange" }
    LeaderChange:
      type: object
      required: [term, leader, at]
      properties:
        term: { $ref: "#/components/schemas/Count" }
        leader: { type: string }
        at: { $ref: "#/components/schemas/Count", description: "Milliseconds since the Unix epoch, on the clock of a node that learned of the leader." }
    ClusterView:
      type: object
      required: [cluster, servedBy, time, nodes, groups]
      properties:
        cluster: { type: string, description: "The cluster's name." }
        servedBy: { type: string, description: "The node that answered." }
        time: { $ref: "#/components/schemas/Count", description: "Milliseconds since the Unix epoch, on the answering node's clock." }
        nodes:
          type: array
          items:
            type: object
            required: [id, http, reachable]
            properties:
              id: { type: string }
              http: { type: string, description: "The node's HTTP address in `cluster.yaml`." }
              reachable: { type: boolean }
              error: { type: string, description: "Why the node's status could not be had (unreachable nodes)." }
              status: { $ref: "#/components/schemas/NodeStatus" }
        groups:
          type: array
          items:
            type: object
            required: [name, stateMachine, leader, term, leaderChanges]
            properties:
              name: { type: string }
              stateMachine: { type: string }
              leader:
                type: [string, "null"]
                description: The reachable node leading in the highest term reported; `null` while none does.
              term: { $ref: "#/components/schemas/Count" }
              leaderChanges:
                type: array
                description: Leaders the reachable nodes learned of, one per term, newest first.
                items: { $ref: "#/components/schemas/LeaderChange" }
    CompareAndSwapAnswer:
      type: object
      required: [swapped, current]
      properties:
        swapped: { type: boolean }
        current: { type: [string, "null"] }
    LockHolder:
      type: object
      required: [owner, token, expiresAt]
      properties:
        owner: { type: string }
        token: { $ref: "#/components/schemas/Count", description: "The fencing token: grows with every grant." }
        expiresAt: { $ref: "#/components/schemas/Count", description: "Log time (milliseconds) at which the lease ends." }
    Count:
      type: integer
      minimum: 0
      maximum: 18446744073709551615
"""#
}
