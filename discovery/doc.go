// Package discovery finds tessera's compute nodes: the registry (a small
// HTTP/JSON directory of live nodes) with its server and client, mDNS
// announce and browse on the local network, and a Watcher that merges every
// source into one live set of nodes.
//
// # Registry API v1
//
//	PUT    /v1/nodes/{id}  body {"id","name","addr":"host:port","cores","version","state","started","seq"}
//	                       200 {...record, "lastSeen": RFC 3339, "ttlSeconds": 15}; 409 if stale
//	DELETE /v1/nodes/{id}  body empty or {"started","seq"}; 204; 404 if unknown; 409 if stale
//	GET    /v1/nodes/{id}  200 the record; 404 if not live
//	GET    /v1/nodes       200 {"nodes": [records seen within the TTL, by id], "full": true,
//	                       "version": V, "ttlSeconds": 15}, ETag W/"V"
//	GET    /v1/nodes?since=V  200 {"nodes": [records added or changed since V], "gone": [ids],
//	                       "full": false, "since": V, "version": V2, ...}
//	                       (or the whole list, "full": true, when V cannot be answered from)
//	GET    /v1/nodes with If-None-Match: W/"V"  304, no body, when the version is still V
//	GET    /healthz        200 {"status":"ok"}
//	GET    /               an HTML page of the live nodes that refreshes itself
//
// The list's version V ("INSTANCE-GENERATION") moves when a record is
// added, removed (deleted or expired) or changes, and only then: a
// heartbeat that only refreshes lastSeen (and seq) does not move it, so the
// ETag is weak. A watcher sends If-None-Match and ?since= its last version:
// 304 when nothing changed, else only the changes (Lister does this). A
// version of another registry instance (or of an earlier run), or one
// older than the removals the registry still remembers (at least
// max(MaxNodes, 1024)), gets the whole list; a malformed one gets 400.
// "gone" never names a listed id.
//
// Stale writes. A node's writes carry "started" (when its heartbeat run
// began, RFC 3339) and "seq" (the write's number in that run). A PUT or
// DELETE from a run started before the live record's, or of the same run
// with a lower seq, is refused with 409 and changes nothing: a restarted
// node's record is never overwritten by a heartbeat its predecessor sent
// into a broken link. A write without "started" is never refused, nor is
// any write once the record held has expired.
//
// A PUT registers a node or refreshes it (a heartbeat); a node sends one
// every TTL/3. An id is 1 to 63 bytes of letters, digits, '-' and '_' (it is
// also the node's mDNS instance name); the body's id, when present, must
// equal the path's. The name (64 bytes of printable UTF-8; empty means the
// id), the address (host:port, port 1 to 65535, host an IP or DNS name),
// cores (1 to 65536) and version (64 bytes) are checked before anything is
// stored: a record is stored whole or not at all. An empty or unspecified
// host in addr (":7701", "0.0.0.0:7701", "[::]:7701") is replaced by the
// address the request came from. Unknown JSON fields are ignored.
//
// Every error is a JSON {"error": "..."} saying what was wrong, with status
// 400 (malformed JSON, invalid field), 401 (missing or wrong signature), 404
// (unknown path or node), 405 (method; Allow lists the right ones), 409
// (a stale write), 413 (body over 64 KiB) or 503 (registry full: a new id when MaxNodes records
// are held; known ids can still refresh; Retry-After is set).
//
// # Signatures
//
// A registry with a token requires every PUT and DELETE to carry
//
//	Authorization: Tessera ts=UNIX_SECONDS,sig=HEX
//
// where HEX is HMAC-SHA256, keyed with the token, of
// METHOD "\n" PATH "\n" UNIX_SECONDS "\n" hex(SHA-256(body)), and refuses a
// timestamp more than 60 s from its clock. Reads stay open, but a read may be
// signed too. The token never crosses the wire. A signed request seen on the
// wire can be replayed within those 60 s: it only repeats the same
// registration or deregistration.
//
// To a request with a valid signature the registry answers with
//
//	Tessera-Signature: hex(HMAC-SHA256(token, "response\n" STATUS "\n" REQUEST_SIG_HEX "\n" hex(SHA-256(body))))
//
// so a node can tell a registry that holds the room's token from one that
// does not: a RegistryClient with a token rejects an answer that lacks a
// valid signature (ErrUnsignedResponse). The answer is bound to the
// request's signature, so it cannot be replayed for another request.
//
// # mDNS
//
// Nodes announce NodeService ("_tessera._tcp") and registries
// RegistryService ("_tessera-registry._tcp") with github.com/hashicorp/mdns
// v1.0.7, allowing for its behaviour: one responder per multicast-capable
// interface with that interface's own IPv4 address and an explicit host
// name (the instance), queries over IPv4 only, short timeouts, browsing in a
// loop (the library never announces), entries without an IPv4 address
// skipped. A node's TXT records are id=, name=, cores=, version= and proto=.
// A host without multicast logs one warning and goes on with the registry.
// On a host with several LANs a responder may also hear queries from the
// other interfaces and answer with its own interface's address (the library
// gives no way to tell where a query came from); the watcher then lists an
// address that may not be reachable from that LAN.
//
// Everything here takes a zerolog.Logger in its configuration (the zero
// value discards) and never prints.
package discovery
