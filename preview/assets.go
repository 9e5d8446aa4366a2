package preview

import "embed"

// The page and everything it loads are built into the binary: the preview
// works on a LAN with no internet.

//go:embed assets/index.html
var indexHTML []byte

// assetFiles are served under /assets/ by their embedded paths.
//
//go:embed assets/app.js assets/style.css
var assetFiles embed.FS
