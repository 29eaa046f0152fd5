#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one-event write commands (`task add|start|complete|fail`, `note`,
/// `wave set`, `meta set`) without argument parser, for the simple forms
/// agents run thousands of times.
///
/// swift-argument-parser builds its whole command tree on every run: it
/// reflects over every command's and option group's properties, and each
/// of its dynamic casts is a runtime protocol-conformance scan. That was
/// 14.1 M of the 25.2 M instructions of a `task complete` on a 200-task
/// workflow (56%). This parser reads only what it is sure argument parser
/// would read the same way, and builds the same ``WriteRequest`` that the
/// command's ``OneEventCommand/request`` would hold. It declines — and
/// argument parser, with its help, completion and error messages, takes
/// over — on anything else:
///
/// - any argument that is empty, is `help`, or starts with `-` without
///   being one of the command's long options (`--help`, `-h`, `--`,
///   completion requests, unknown options, negative numbers);
/// - an option value that is empty or starts with `-` (`--commit -x`);
///   `--name=value` and `--name value` are both read;
/// - an option given twice (but `--file`), a global option given both
///   before and after the command, a flag with `=`;
/// - a missing required option, too few or too many positionals;
/// - a number it cannot read exactly as argument parser does: `--wave`,
///   `wave set N` and `--expect-seq` must be plain digits in range,
///   `--lock-timeout` plain digits with at most one `.` between digits.
///
/// Tests/CLITests/FastPathTests.swift checks both claims: for generated
/// and tabled argv, every request the fast path builds is the one argument
/// parser builds, and both paths print the same bytes with the same exit
/// status. `STATEJOURNAL_NO_FAST_PATH` (set and not empty) sends every
/// argv to argument parser; the tests use it to run the other path.
enum FastPath {
    /// The request for `arguments` (without the executable's name), or nil
    /// when argument parser must read them.
    static func request(_ arguments: [String]) -> WriteRequest? {
        if let off = getenv("STATEJOURNAL_NO_FAST_PATH"), off.pointee != 0 { return nil }
        return parse(arguments)
    }

    /// ``request(_:)`` without the environment check.
    static func parse(_ arguments: [String]) -> WriteRequest? {
        var leading = Parsed()
        guard var i = read(arguments, from: 0, known: globalOptions, stopAtPositional: true, into: &leading),
              let command = commands.first(where: { arguments[i...].starts(with: $0.words) })
        else { return nil }
        i += command.words.count
        var trailing = Parsed()
        guard read(arguments, from: i, known: command.options, stopAtPositional: false, into: &trailing) != nil,
              trailing.positionals.count == command.positionals
        else { return nil }
        // A global option on both sides: argument parser's business.
        for option in globalOptions where leading.has(option.name) && trailing.has(option.name) { return nil }
        func value(_ name: String) -> String? { leading.first(name) ?? trailing.first(name) }

        var global = GlobalSettings(state: value("state"), actor: value("actor"),
                                    allowSymlinks: leading.has("allow-symlinks") || trailing.has("allow-symlinks"),
                                    store: value("store"))
        if let text = value("lock-timeout") {
            guard let seconds = decimal(text) else { return nil }
            global.lockTimeout = seconds
        }
        var flags = WriteSettings(idempotencyKey: trailing.first("idempotency-key"), json: trailing.has("json"))
        if let text = trailing.first("expect-seq") {
            guard let seq = digits(text).flatMap({ UInt64($0) }) else { return nil }
            flags.expectSeq = seq
        }
        guard let write = command.build(trailing) else { return nil }
        return WriteRequest(global: global, flags: flags, write: write)
    }

    // MARK: The grammar

    private enum Kind: Sendable { case value, repeatable, flag }

    /// Option names (without `--`) and kinds. Arrays, not dictionaries: a
    /// handful of names, and no generic metadata to instantiate at start-up.
    private typealias Options = [(name: String, kind: Kind)]

    private static let globalOptions: Options = [
        ("state", .value), ("actor", .value), ("lock-timeout", .value), ("allow-symlinks", .flag), ("store", .value),
    ]

    private static let writeOptions: Options = globalOptions + [
        ("expect-seq", .value), ("idempotency-key", .value), ("json", .flag),
    ]

    private struct Command: Sendable {
        var words: [String]
        var options: Options
        var positionals: Int
        var build: @Sendable (Parsed) -> OneEventWrite?

        init(_ words: [String], options: Options = [], positionals: Int, build: @escaping @Sendable (Parsed) -> OneEventWrite?) {
            self.words = words
            self.options = writeOptions + options
            self.positionals = positionals
            self.build = build
        }
    }

    /// Each command's arguments as its argument parser type declares them
    /// (TaskAdd.swift, TaskStart.swift, …).
    private static let commands: [Command] = [
        Command(["task", "add"], options: [("wave", .value), ("description", .value)], positionals: 1) { p in
            guard let wave = p.first("wave").flatMap(digits).flatMap({ Int($0) }) else { return nil }
            return .taskAdd(id: p.positionals[0], wave: wave, description: p.first("description") ?? "")
        },
        Command(["task", "start"], positionals: 1) { p in .taskStart(id: p.positionals[0]) },
        Command(["task", "complete"], options: [("commit", .value), ("file", .repeatable)], positionals: 1) { p in
            .taskComplete(id: p.positionals[0], commit: p.first("commit"), files: p.all("file"))
        },
        Command(["task", "fail"], options: [("error", .value)], positionals: 1) { p in
            guard let error = p.first("error") else { return nil }
            return .taskFail(id: p.positionals[0], error: error)
        },
        Command(["note"], positionals: 1) { p in .note(text: p.positionals[0]) },
        Command(["wave", "set"], positionals: 1) { p in
            guard let wave = digits(p.positionals[0]).flatMap({ Int($0) }) else { return nil }
            return .waveSet(wave: wave)
        },
        Command(["meta", "set"], positionals: 2) { p in .metaSet(key: p.positionals[0], value: p.positionals[1]) },
    ]

    // MARK: Reading

    private struct Parsed: Sendable {
        /// Options given, in order: name and value (nil for a flag).
        var options: [(name: String, value: String?)] = []
        var positionals: [String] = []

        func has(_ name: String) -> Bool { options.contains { $0.name == name } }
        func first(_ name: String) -> String? { options.first { $0.name == name }?.value }
        func all(_ name: String) -> [String] { options.compactMap { $0.name == name ? $0.value : nil } }
    }

    /// Reads `arguments[start...]` into `parsed`: options named in `known`
    /// and, unless `stopAtPositional`, positionals. Returns where it stopped
    /// (the end, or the first positional), or nil to decline.
    private static func read(_ arguments: [String], from start: Int, known: Options, stopAtPositional: Bool,
                             into parsed: inout Parsed) -> Int? {
        var i = start
        while i < arguments.count {
            let argument = arguments[i]
            guard plain(argument) || argument.hasPrefix("--") else { return nil }
            if !argument.hasPrefix("-") {
                if stopAtPositional { return i }
                parsed.positionals.append(argument)
                i += 1
                continue
            }
            let body = argument.dropFirst(2)
            let equals = body.firstIndex(of: "=")
            let name = String(body[..<(equals ?? body.endIndex)])
            guard let kind = known.first(where: { $0.name == name })?.kind,
                  kind == .repeatable || !parsed.has(name)
            else { return nil }
            switch kind {
            case .flag:
                guard equals == nil else { return nil }
                parsed.options.append((name, nil))
            case .value, .repeatable:
                let value: String
                if let equals {
                    value = String(body[body.index(after: equals)...])
                } else {
                    i += 1
                    guard i < arguments.count else { return nil }
                    value = arguments[i]
                }
                guard plain(value) else { return nil }
                parsed.options.append((name, value))
            }
            i += 1
        }
        return i
    }

    /// Not empty, not `help`, not starting with `-`: read the same way by
    /// both parsers, as a value or a positional.
    private static func plain(_ argument: String) -> Bool {
        guard let first = argument.utf8.first, first != UInt8(ascii: "-") else { return false }
        return argument != "help"
    }

    /// `text` if it is only ASCII digits.
    private static func digits(_ text: String) -> String? {
        text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) ? text : nil
    }

    /// Seconds from plain digits with at most one `.` between digits,
    /// finite; what `Double(text)` reads the same way in both parsers.
    private static func decimal(_ text: String) -> Double? {
        let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count),
              parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              let value = Double(text), value.isFinite
        else { return nil }
        return value
    }
}
