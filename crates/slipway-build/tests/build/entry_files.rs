//! Apps that are a lone entry file, as the peers' planners start them: a
//! `main.py` with no dependency file and an `index.js` whose package.json has
//! no start script, built and asked for `/`.

use slipway_build::{detect, Builder};
use slipway_core::stack::Stack;

use crate::support::{build, built, WebProcess, Workspace};

const MAIN_PY: &str = "\
import http.server, os

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'hello from main.py'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Hello).serve_forever()
";

const INDEX_JS: &str = "\
require('http')
  .createServer((req, res) => res.end('hello from index.js ' + process.env.GREETING))
  .listen(Number(process.env.PORT), '127.0.0.1');
";

#[tokio::test]
async fn a_lone_main_py_builds_and_serves() {
    let workspace = Workspace::new();
    let app_dir = workspace.app_from_files("app", &[("main.py", MAIN_PY)]);
    let plan = detect(&app_dir).expect("plan");
    assert_eq!((plan.stack, plan.start.as_deref()), (Stack::Python, Some("python main.py")));
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from main.py");
}

#[tokio::test]
async fn an_index_js_without_a_start_script_builds_and_serves() {
    let workspace = Workspace::new();
    let app_dir = workspace
        .app_from_files("app", &[("package.json", r#"{"name": "plain", "version": "1.0.0"}"#), ("index.js", INDEX_JS)]);
    let plan = detect(&app_dir).expect("plan");
    assert_eq!((plan.stack, plan.start.as_deref()), (Stack::Node, Some("node index.js")));
    let (result, log) = build(&Builder::new(1), &plan, workspace.request(&app_dir)).await;
    let app = built(result, &log);
    let mut web = WebProcess::start(&app, plan.processes["web"].as_str());
    assert_eq!(web.get("/").await, "hello from index.js hi");
}
