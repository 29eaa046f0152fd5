#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

/// Where a workflow's journal lives on a PostgreSQL server:
/// `postgres://USER@HOST:PORT/DATABASE?workflow=NAME`.
///
/// The URL never carries a password (it would show in `ps`, shell history
/// and logs): the password comes from `PGPASSWORD`, else from the pass file
/// (`PGPASSFILE`, else `~/.pgpass`, lines `host:port:database:user:password`),
/// as for `psql`. A host that is a directory (`%2Frun%2Fpostgresql`, or
/// `?host=/run/postgresql`) means the server's Unix socket in it.
/// `sslmode=disable|prefer|require` (default: `prefer` over TCP) chooses TLS.
package struct PostgresStoreAddress: Sendable, Equatable, CustomStringConvertible {
    /// The role to log in as.
    package var user: String
    /// A host name or address, or the directory of the server's Unix socket.
    package var host: String
    /// The server's port (also names its Unix socket).
    package var port: Int
    /// The database.
    package var database: String
    /// The workflow's name: several workflows share the tables.
    package var workflow: String
    /// TLS: `disable`, `prefer` or `require`.
    package var sslMode: String

    /// Whether ``host`` is a Unix socket's directory.
    package var isUnixSocket: Bool { host.hasPrefix("/") }

    /// Parses `postgres://USER@HOST:PORT/DATABASE?workflow=NAME` (or `postgresql://`).
    /// - Throws: ``StateJournalError/Code/badInput`` saying what is missing
    ///   or wrong — and a URL with a password is refused.
    package init(parsing url: String) throws {
        func bad(_ why: String) -> StateJournalError {
            StateJournalError.badInput("the store URL \(Self.redacted(url)) \(why); write it as postgres://USER@HOST:PORT/DATABASE?workflow=NAME")
        }
        var rest: Substring
        if url.hasPrefix("postgres://") { rest = url.dropFirst("postgres://".count) }
        else if url.hasPrefix("postgresql://") { rest = url.dropFirst("postgresql://".count) }
        else { throw bad("does not start with postgres://") }
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                let key = Self.percentDecoded(String(parts[0]))
                query[key] = parts.count > 1 ? Self.percentDecoded(String(parts[1])) : ""
            }
            rest = rest[..<q]
        }
        if let key = query.keys.first(where: { $0 == "password" }) {
            _ = key
            throw StateJournalError.badInput("the store URL must not carry a password (it would show in ps output and logs); "
                + "give it in PGPASSWORD or a pass file (PGPASSFILE, else ~/.pgpass)")
        }
        var authority = rest
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        var user = ""
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            if credentials.contains(":") {
                throw StateJournalError.badInput("the store URL must not carry a password (it would show in ps output and logs); "
                    + "remove it and give it in PGPASSWORD or a pass file (PGPASSFILE, else ~/.pgpass)")
            }
            user = Self.percentDecoded(String(credentials))
            authority = authority[authority.index(after: at)...]
        }
        var host = "localhost"
        var port = 5432
        if let colon = authority.lastIndex(of: ":"), !authority.hasPrefix("[") || authority[..<colon].hasSuffix("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { throw bad("has a bad port") }
            port = p
            authority = authority[..<colon]
        }
        if !authority.isEmpty { host = Self.percentDecoded(String(authority)) }
        if let h = query["host"], !h.isEmpty { host = h }
        if let p = query["port"] {
            guard let value = Int(p), (1...65535).contains(value) else { throw bad("has a bad port") }
            port = value
        }
        if user.isEmpty { user = query["user"] ?? "" }
        if user.isEmpty, let env = getenv("PGUSER") { user = String(cString: env) }
        guard !user.isEmpty else { throw bad("names no user") }
        let database = Self.percentDecoded(String(path))
        guard !database.isEmpty, !database.contains("/") else { throw bad("names no database") }
        guard let workflow = query["workflow"], !workflow.isEmpty else { throw bad("names no workflow (?workflow=NAME)") }
        let sslMode = query["sslmode"] ?? (host.hasPrefix("/") ? "disable" : "prefer")
        guard ["disable", "allow", "prefer", "require"].contains(sslMode) else {
            throw bad("has sslmode=\(sslMode); use disable, prefer or require")
        }
        self.user = user
        self.host = host
        self.port = port
        self.database = database
        self.workflow = workflow
        self.sslMode = sslMode
    }

    /// The address as a URL, without any secret (there is none in it).
    package var description: String {
        let hostPart = isUnixSocket ? Self.percentEncoded(host) : host
        return "postgres://\(user)@\(hostPart):\(port)/\(database)?workflow=\(workflow)"
    }

    /// Whether `text` names a PostgreSQL store rather than a directory.
    package static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// The password for this address: `PGPASSWORD`, else the first matching
    /// line of the pass file; nil when there is none (trust or peer login).
    package func password() -> String? {
        if let env = getenv("PGPASSWORD"), env.pointee != 0 { return String(cString: env) }
        let file: String
        if let env = getenv("PGPASSFILE"), env.pointee != 0 {
            file = String(cString: env)
        } else if let home = getenv("HOME") {
            file = String(cString: home) + "/.pgpass"
        } else {
            return nil
        }
        guard let text = Self.readSmallFile(file) else { return nil }
        let hostName = isUnixSocket ? "localhost" : host
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = Self.passFields(line)
            guard fields.count == 5 else { continue }
            let wanted = [hostName, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// A URL as it may be shown: any password replaced by `***`.
    package static func redacted(_ url: String) -> String {
        guard let scheme = url.firstRange(of: "://") else { return url }
        var text = url
        let authorityEnd = text[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
        if let at = text[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
           let colon = text[scheme.upperBound..<at].firstIndex(of: ":") {
            text.replaceSubrange(text.index(after: colon)..<at, with: "***")
        }
        if let range = text.firstRange(of: "password=") {
            let end = text[range.upperBound...].firstIndex(of: "&") ?? text.endIndex
            text.replaceSubrange(range.upperBound..<end, with: "***")
        }
        return text
    }

    private static func passFields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for c in line {
            if escaped { current.append(c); escaped = false }
            else if c == "\\" { escaped = true }
            else if c == ":" { fields.append(current); current = "" }
            else { current.append(c) }
        }
        fields.append(current)
        return fields
    }

    private static func readSmallFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 1 << 20 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func percentDecoded(_ text: String) -> String {
        var out: [UInt8] = []
        var bytes = Array(text.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2,
               let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16) {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func percentEncoded(_ text: String) -> String {
        text.replacingSlashes()
    }
}

extension String {
    fileprivate func replacingSlashes() -> String {
        var out = ""
        for c in self { out += c == "/" ? "%2F" : String(c) }
        return out
    }
}
