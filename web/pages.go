package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed assets
var assetFS embed.FS

// assetSet is the embedded front end. Static files are served under /assets/<version>/ where the
// version is a hash of their content, so that browsers may cache them forever and still never run
// a stale widget after an upgrade.
type assetSet struct {
	version string
	files   map[string][]byte
	demo    *template.Template
	frame   *template.Template
}

func loadAssets() (*assetSet, error) {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, fmt.Errorf("embedded assets: %w", err)
	}
	a := &assetSet{files: map[string][]byte{}}
	h := sha256.New()
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		a.files[p] = b
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded assets: %w", err)
	}
	a.version = hex.EncodeToString(h.Sum(nil))[:12]
	if a.demo, err = template.New("demo").Parse(string(a.files["demo.html"])); err != nil {
		return nil, fmt.Errorf("parse demo.html: %w", err)
	}
	if a.frame, err = template.New("frame").Parse(string(a.files["frame.html"])); err != nil {
		return nil, fmt.Errorf("parse frame.html: %w", err)
	}
	if !bytes.Contains(a.files["widget.js"], []byte(loaderDefaultPosition)) {
		return nil, fmt.Errorf("widget.js has no %q line for widget.position", loaderDefaultPosition)
	}
	return a, nil
}

// demoData feeds assets/demo.html.
type demoData struct {
	BusinessName, Tagline, Description string
	Hours                              []string
	Email, Phone, Address              string
	SampleQuestions                    []string
	WidgetSrc                          string
	Accent                             template.CSS
	Position                           string
}

// frameData feeds assets/frame.html.
type frameData struct {
	BusinessName, BotName string
	Title                 string // widget.title: the header line under the bot's name
	Accent                string
	AssetBase             string
	MaxMessageChars       int
}

func (s *Server) handleDemo(c echo.Context) error {
	cfg := s.engine.Understanding().Config
	b := cfg.Business
	d := demoData{BusinessName: b.Name, Tagline: b.Tagline, Description: b.Description, Email: b.Contact.Email,
		Phone: b.Contact.Phone, Address: b.Contact.Address, WidgetSrc: "/widget.js",
		// The accent is validated as a hex colour at load, so it is safe inside CSS.
		Accent: template.CSS(cfg.Widget.Accent), Position: cfg.Widget.Position}
	if len(b.Hours) > 0 {
		d.Hours = cfg.Schedule.Describe()
	}
	for _, f := range cfg.FAQ {
		if len(d.SampleQuestions) == 5 {
			break
		}
		d.SampleQuestions = append(d.SampleQuestions, f.Question)
	}
	return s.render(c, s.assets.demo, d, "")
}

func (s *Server) handleFrame(c echo.Context) error {
	cfg := s.engine.Understanding().Config
	d := frameData{BusinessName: cfg.Business.Name, BotName: cfg.BotName(), Title: cfg.Widget.Title, Accent: cfg.Widget.Accent,
		AssetBase: "/assets/" + s.assets.version, MaxMessageChars: cfg.Widget.MaxMessageChars}
	// The frame may be embedded only by the business's own sites (or anywhere, if none are listed);
	// its scripts and sockets come from this origin only.
	ancestors := "*"
	if o := cfg.Widget.AllowedOrigins; len(o) > 0 {
		ancestors = "'self' " + strings.Join(o, " ")
	}
	csp := "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors " + ancestors
	return s.render(c, s.assets.frame, d, csp)
}

func (s *Server) render(c echo.Context, t *template.Template, data any, csp string) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("render %s: %w", t.Name(), err)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-cache")
	if csp != "" {
		h.Set("Content-Security-Policy", csp)
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

// loaderDefaultPosition is the line of assets/widget.js that handleWidgetJS rewrites with the
// configured corner; parseAssets checks that it is there, so the setting cannot silently stop working.
const loaderDefaultPosition = "var DEFAULT_POSITION = 'right';"

func (s *Server) handleWidgetJS(c echo.Context) error {
	// The loader's URL is pasted into customers' sites and cannot carry a version: cache briefly.
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	js := s.assets.files["widget.js"]
	// widget.position is validated as left or right at load; a data-position attribute still wins.
	if pos := s.engine.Understanding().Config.Widget.Position; pos == "left" {
		js = bytes.Replace(js, []byte(loaderDefaultPosition), []byte("var DEFAULT_POSITION = 'left';"), 1)
	}
	return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", js)
}

func (s *Server) handleAsset(c echo.Context) error {
	name := c.Param("name")
	b, ok := s.assets.files[name]
	if !ok || strings.HasSuffix(name, ".html") {
		return echo.NewHTTPError(http.StatusNotFound, "no such asset")
	}
	if c.Param("version") == s.assets.version {
		c.Response().Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Response().Header().Set("Cache-Control", "no-cache") // a page from before an upgrade
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return c.Blob(http.StatusOK, ctype, b)
}
