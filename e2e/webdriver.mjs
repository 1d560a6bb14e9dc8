// A small W3C WebDriver client over fetch, enough to drive Firefox ESR through geckodriver:
// sessions, navigation, script execution, and finding, typing into and clicking elements.

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriver {
  constructor(base) {
    this.base = base;
    this.session = null;
  }

  async call(method, path, body) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`WebDriver ${method} ${path}: ${json.value?.error} ${json.value?.message}`);
    return json.value;
  }

  s(path) {
    return `/session/${this.session}${path}`;
  }

  async start(capabilities) {
    const value = await this.call('POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    this.session = value.sessionId;
  }

  goto(url) {
    return this.call('POST', this.s('/url'), { url });
  }

  /** Runs a function's body in the page: `script` receives `arguments`. */
  exec(script, ...args) {
    return this.call('POST', this.s('/execute/sync'), { script, args });
  }

  /** Runs an async function: the script calls `arguments[arguments.length - 1](result)`. */
  execAsync(script, ...args) {
    return this.call('POST', this.s('/execute/async'), { script, args });
  }

  async find(css) {
    const value = await this.call('POST', this.s('/element'), { using: 'css selector', value: css });
    return value[ELEMENT];
  }

  async click(css) {
    const id = await this.find(css);
    return this.call('POST', this.s(`/element/${id}/click`), {});
  }

  async type(css, text) {
    const id = await this.find(css);
    await this.call('POST', this.s(`/element/${id}/clear`), {});
    return this.call('POST', this.s(`/element/${id}/value`), { text });
  }

  async quit() {
    if (this.session) await this.call('DELETE', this.s('')).catch(() => {});
    this.session = null;
  }
}
