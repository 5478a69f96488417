/**
 * Reads what `rdisc6` (ndisc6 1.0.5) prints for one RA, into a record whose
 * fields compare across RA senders: options are sorted, and RDNSS and DNSSL
 * are flattened to one entry per server or name with its lifetime, since
 * radvd packs several into one option and zebra sends one option each
 * (equivalent under RFC 8106 §5). The source link-layer address and the
 * sender are kept: both backends send from the same interface.
 */
export interface CapturedRa {
  /** The RA header, label → value as rdisc6 prints it ("Router lifetime" → "30 (0x0000001e) seconds"). */
  readonly header: Readonly<Record<string, string>>;
  /** "2001:db8::/64 on-link=Yes autonomous=Yes valid=86400 preferred=9720", sorted. */
  readonly prefixes: readonly string[];
  /** Route information options, "prefix preference lifetime", sorted. */
  readonly routes: readonly string[];
  readonly mtu: string | null;
  /** "server lifetime", sorted. */
  readonly dnsServers: readonly string[];
  /** "name lifetime", sorted. */
  readonly searchDomains: readonly string[];
  readonly sourceLinkLayer: string | null;
  readonly from: string | null;
  /** Option lines this parser does not know, so that a difference in them still shows. */
  readonly otherOptions: readonly string[];
}

interface Option {
  readonly label: string;
  readonly value: string;
  readonly fields: Map<string, string>;
}

const seconds = (text: string | undefined) => (text ?? '').replace(/\s*\(0x[0-9a-f]+\).*$/i, '').trim();

export function parseRdisc6(stdout: string): CapturedRa {
  const header: Record<string, string> = {};
  const options: Option[] = [];
  let from: string | null = null;
  for (const line of stdout.split('\n')) {
    const sender = /^ from (\S+)/.exec(line);
    if (sender) {
      from = sender[1]!;
      continue;
    }
    const match = /^( *)([^:]+?)\s*:\s*(.*?)\s*$/.exec(line);
    if (!match || line.startsWith('Soliciting')) continue;
    const [, indent, label, value] = match as unknown as [string, string, string, string];
    if (indent.length === 0) header[label] = value;
    else if (indent.length === 1) options.push({ label, value, fields: new Map() });
    else options.at(-1)?.fields.set(label, value);
  }
  const byLabel = (label: string) => options.filter((o) => o.label === label);
  return {
    header,
    prefixes: byLabel('Prefix')
      .map((o) => `${o.value} on-link=${o.fields.get('On-link')} autonomous=${o.fields.get('Autonomous address conf.')} valid=${seconds(o.fields.get('Valid time'))} preferred=${seconds(o.fields.get('Pref. time'))}`)
      .sort(),
    routes: byLabel('Route')
      .map((o) => `${o.value} ${o.fields.get('Route preference')} ${seconds(o.fields.get('Route lifetime'))}`)
      .sort(),
    mtu: byLabel('MTU')[0]?.value ?? null,
    dnsServers: withLifetimes(options, 'Recursive DNS server', /^DNS servers? lifetime$/).sort(),
    searchDomains: withLifetimes(options, 'DNS search list', /^DNS search list lifetime$/).sort(),
    sourceLinkLayer: byLabel('Source link-layer address')[0]?.value ?? null,
    from,
    otherOptions: options
      .filter((o) => !['Prefix', 'Route', 'MTU', 'Recursive DNS server', 'DNS search list', 'Source link-layer address'].includes(o.label))
      .map((o) => `${o.label}: ${o.value}`)
      .sort(),
  };
}

/**
 * Entries of an RFC 8106 option with their lifetime. rdisc6 prints one line
 * per server and the option's lifetime after the last of them, or several
 * names on one line; each entry takes the next lifetime printed.
 */
function withLifetimes(options: readonly Option[], label: string, lifetimeLabel: RegExp): string[] {
  const entries: string[] = [];
  let pending: string[] = [];
  for (const option of options) {
    if (option.label !== label) continue;
    pending.push(...option.value.split(/\s+/).filter(Boolean));
    const lifetime = [...option.fields].find(([field]) => lifetimeLabel.test(field))?.[1];
    if (lifetime !== undefined) {
      entries.push(...pending.map((entry) => `${entry} ${seconds(lifetime)}`));
      pending = [];
    }
  }
  return [...entries, ...pending.map((entry) => `${entry} ?`)];
}
