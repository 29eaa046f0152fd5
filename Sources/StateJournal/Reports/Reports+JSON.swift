import StateJournalEngine

// The JSON shapes the command line prints with --json (Docs/CLI.md), kept
// beside the values they describe so that the CLI only formats.

extension StateManager.WriteOutcome {
    /// The event's JSON with `"duplicate"` added: what every write command prints.
    package func json() -> JSON {
        var members = event.json().objectValue ?? []
        members.append(JSON.Member("duplicate", .bool(wasDuplicate)))
        return .object(members)
    }
}

extension RestorePlan {
    /// `restore --dry-run --json`.
    package func json() -> JSON {
        .obj([
            "dry_run": .bool(true),
            "restored_seq": .int(Int64(targetSeq)),
            "current_seq": .int(Int64(currentSeq)),
            "diff": .array(unifiedDiff.map { .string($0) }),
            "state": result.json(),
        ])
    }
}

extension ImportOutcome {
    /// `import --json`.
    package func json() -> JSON {
        .obj([
            "kind": .string(kind.rawValue),
            "events": .int(Int64(events.count)),
            "seq": .int(Int64(events.last?.seq ?? 0)),
            "workflow_id": .string(state.workflowID),
            "tasks": .int(Int64(state.tasks.count)),
            "duplicate": .bool(wasDuplicate),
        ])
    }
}

extension VerifyReport {
    /// `verify --json`.
    package func json() -> JSON {
        .obj([
            "ok": .bool(!hasCorruption),
            "seq": .int(Int64(lastSeq)),
            "problems": .array(problems.map {
                .obj(["file": .string($0.file), "message": .string($0.message), "corruption": .bool($0.isCorruption)])
            }),
            "state_md_regenerated": .bool(projectionRegenerated),
        ])
    }
}

extension ClaimOutcome {
    /// `task claim --json` and `task heartbeat --json`: the event's fields,
    /// then `claimed` (the task, every field), then `duplicate`.
    package func json() -> JSON {
        var members = write.event.json().objectValue ?? []
        members.append(JSON.Member("claimed", task.json(complete: true)))
        members.append(JSON.Member("duplicate", .bool(write.wasDuplicate)))
        return .object(members)
    }

    /// `task claim --json` when nothing was claimed: `{"claimed": null, "reason": …}`.
    package static func refusalJSON(_ reason: String) -> JSON {
        .obj(["claimed": .null, "reason": .string(reason)])
    }
}
