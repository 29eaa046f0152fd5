#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization
import StateJournalModel

/// The bridge between the library's synchronous calls and postgres-nio's
/// event loops: one event loop group per process (NIO's shared one), and
/// every call waits on the *caller's* thread for a future completed on an
/// event loop thread — never on an event loop thread itself, so nothing
/// waits on the loop it blocks. Idle connections are kept per address for
/// the next store of the same process.
package final class PostgresConnector: Sendable {
    package static let shared = PostgresConnector()

    private let idle = Mutex<[String: [PostgresConnection]]>([:])
    private let schemaReady = Mutex<Set<String>>([])
    private let nextID = Atomic<Int>(1)

    private var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    /// A connection to `address`: an idle one of this process, else a new one.
    package func connection(_ address: PostgresStoreAddress, logger: Logger) throws -> PostgresConnection {
        let key = address.description
        while let kept = idle.withLock({ $0[key]?.popLast() }) {
            if !kept.isClosed { return kept }
        }
        var config: PostgresConnection.Configuration
        let password = address.password()
        if address.isUnixSocket {
            config = .init(unixSocketPath: address.host + "/.s.PGSQL.\(address.port)", username: address.user,
                           password: password, database: address.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch address.sslMode {
            case "disable": tls = .disable
            default:
                var tlsConfig = TLSConfiguration.makeClientConfiguration()
                tlsConfig.certificateVerification = .none
                let context: NIOSSLContext
                do { context = try NIOSSLContext(configuration: tlsConfig) } catch {
                    throw StateJournalError(.io, "could not set up TLS for \(address): \(error); try ?sslmode=disable on a trusted network")
                }
                tls = address.sslMode == "require" ? .require(context) : .prefer(context)
            }
            config = .init(host: address.host, port: address.port, username: address.user, password: password,
                           database: address.database, tls: tls)
        }
        config.options.connectTimeout = .seconds(10)
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: config, id: id, logger: logger).wait()
        } catch {
            throw PostgresStoreError.describe(error, doing: "connect to", address, passwordGiven: password != nil)
        }
    }

    /// Keeps `connection` for the next store of this process, unless it is
    /// closed or in a transaction.
    package func giveBack(_ connection: PostgresConnection, _ address: PostgresStoreAddress) {
        guard !connection.isClosed else { return }
        idle.withLock { $0[address.description, default: []].append(connection) }
    }

    /// Whether this process already made sure the tables exist.
    package func schemaChecked(_ address: PostgresStoreAddress) -> Bool {
        schemaReady.withLock { $0.contains(address.description) }
    }

    package func markSchemaChecked(_ address: PostgresStoreAddress) {
        _ = schemaReady.withLock { $0.insert(address.description) }
    }
}

/// Maps postgres-nio's errors (which, on purpose, say little in their
/// description) to the library's, with what to do next — never with a
/// password, which no message ever holds.
package enum PostgresStoreError {
    /// The SQLSTATE of a server error.
    package static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// Whether the connection broke (so a statement in flight may or may
    /// not have taken effect on the server).
    package static func isConnectionLost(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return error is ConnectionGone || error is ChannelError || error is IOError }
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown:
            return true
        default:
            return false
        }
    }

    package static func describe(_ error: any Error, doing operation: String, _ address: PostgresStoreAddress,
                                 passwordGiven: Bool = true) -> StateJournalError {
        if let error = error as? StateJournalError { return error }
        if error is ConnectionGone {
            return StateJournalError(.io, "the connection to PostgreSQL at \(address) was lost or stopped answering (trying to \(operation) it); "
                + "check that the server runs, then retry")
        }
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                let state = info[.sqlState] ?? "?"
                let message = info[.message] ?? "error"
                var hint = ""
                switch state {
                case "28P01", "28000":
                    hint = passwordGiven
                        ? " — check the password in PGPASSWORD or the pass file (PGPASSFILE, else ~/.pgpass)"
                        : " — give the password in PGPASSWORD or a pass file (PGPASSFILE, else ~/.pgpass), never in the URL"
                case "3D000": hint = " — create the database first (createdb), or name another in the URL"
                case "57P01", "57P02", "57P03": hint = " — the server is shutting down or starting; retry in a moment"
                default: break
                }
                return StateJournalError(.io, "PostgreSQL at \(address) refused to \(operation) it: \(message) (SQLSTATE \(state))\(hint)")
            }
            switch error.code {
            case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
                return StateJournalError(.io, "the connection to PostgreSQL at \(address) was lost (trying to \(operation) it); "
                    + "check that the server runs, then retry")
            case .connectionError:
                return StateJournalError(.io, "could not \(operation) PostgreSQL at \(address): \(underlying(error)); "
                    + "check that the server runs and accepts connections there")
            case .authMechanismRequiresPassword:
                return StateJournalError(.io, "PostgreSQL at \(address) asks for a password: give it in PGPASSWORD or a pass file "
                    + "(PGPASSFILE, else ~/.pgpass), never in the URL")
            case .sslUnsupported:
                return StateJournalError(.io, "PostgreSQL at \(address) does not offer TLS; use ?sslmode=prefer or ?sslmode=disable on a trusted network")
            default:
                return StateJournalError(.io, "could not \(operation) PostgreSQL at \(address): \(error.code)")
            }
        }
        return StateJournalError(.io, "could not \(operation) PostgreSQL at \(address): \(error)")
    }

    private static func underlying(_ error: PSQLError) -> String {
        guard let cause = error.underlying else { return "connection error" }
        if let io = cause as? IOError { return String(cString: strerror(io.errnoCode)) }
        return "\(cause)"
    }
}
