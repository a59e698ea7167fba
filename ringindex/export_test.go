package ringindex

// LinkRename exposes the link + unlink fallback of the no-replace rename to
// the external tests (renameat2 is always available on the test machines).
var LinkRename = linkRename
