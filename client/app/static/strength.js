// The passphrase strength meter: the same estimate as cove/client/app/passphrase.py.
const MIN_LENGTH = 10;
const LABELS = ["very weak", "weak", "fair", "strong", "very strong"];
const COMMON = ["password", "passphrase", "qwerty", "123456", "letmein", "iloveyou", "cove", "welcome"];

export function bits(text) {
  if (!text) return 0;
  const chars = Array.from(text);
  let pool = 0;
  if (chars.some((c) => c >= "a" && c <= "z")) pool += 26;
  if (chars.some((c) => c >= "A" && c <= "Z")) pool += 26;
  if (chars.some((c) => c >= "0" && c <= "9")) pool += 10;
  if (chars.some((c) => c.charCodeAt(0) < 128 && !/[A-Za-z0-9]/.test(c))) pool += 33;
  if (chars.some((c) => c.codePointAt(0) >= 128)) pool += 100;
  let effective = 1;
  for (let i = 1; i < chars.length; i++) {
    const step = chars[i].codePointAt(0) - chars[i - 1].codePointAt(0);
    effective += step >= -1 && step <= 1 ? 0.25 : 1;
  }
  const per = Math.log2(Math.max(pool, 2));
  let value = effective * per;
  const lower = text.toLowerCase();
  for (const word of COMMON) if (lower.includes(word)) value -= word.length * per * 0.75;
  return Math.max(value, 0);
}

export function score(text) {
  const b = bits(text);
  if (Array.from(text).length < MIN_LENGTH || b < 35) return b < 25 ? 0 : 1;
  if (b < 50) return 2;
  if (b < 70) return 3;
  return 4;
}

export function attach(root) {
  const input = root.querySelector("#passphrase");
  const meter = root.querySelector("#pp-strength");
  const text = root.querySelector("#pp-strength-text");
  if (!input || !meter || !text) return;
  const update = () => {
    const s = score(input.value);
    meter.value = s;
    if (!input.value) text.textContent = "Type a passphrase to see its strength.";
    else if (Array.from(input.value).length < MIN_LENGTH) text.textContent = `${LABELS[s]}: use at least ${MIN_LENGTH} characters.`;
    else text.textContent = s < 2 ? `${LABELS[s]}: add another word or two.` : `${LABELS[s]}.`;
  };
  input.addEventListener("input", update);
  update();
}
