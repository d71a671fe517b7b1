// Validates Argo CD and external-secrets objects (JSON files given as arguments) with the
// validators of the npm packages @kubernetes-models/argo-cd and @kubernetes-models/external-secrets,
// which are generated from the upstream CRD/OpenAPI schemas. Run by tests/crd_models.rs;
// SLIPWAY_NODE_CRDS names the `npm install --prefix` directory holding them.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = path.join(process.env.SLIPWAY_NODE_CRDS, "node_modules", "@kubernetes-models");
const load = (file) => import(pathToFileURL(path.join(modules, file)).href);
const argo = await load("argo-cd/argoproj.io/v1alpha1/index.js");
const eso = await load("external-secrets/external-secrets.io/v1beta1/index.js");
const models = {
  "argoproj.io/v1alpha1/Application": argo.Application,
  "argoproj.io/v1alpha1/AppProject": argo.AppProject,
  "argoproj.io/v1alpha1/ApplicationSet": argo.ApplicationSet,
  "external-secrets.io/v1beta1/ExternalSecret": eso.ExternalSecret,
};
let failed = 0;
for (const file of process.argv.slice(2)) {
  const object = JSON.parse(fs.readFileSync(file, "utf8"));
  const Model = models[`${object.apiVersion}/${object.kind}`];
  try {
    if (!Model) throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
    new Model(object).validate();
    console.log(`PASS ${path.basename(file)}`);
  } catch (error) {
    console.log(`FAIL ${path.basename(file)}: ${error.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
