// Cove's app: plain JavaScript modules served by the app itself (no build step).
import { attach as attachStrength } from "./strength.js";
import { attach as attachComposer } from "./composer.js";
import { connect } from "./live.js";

attachStrength(document);
attachComposer(document);
connect();
document.body.dataset.ready = "yes";
