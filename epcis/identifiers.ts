/**
 * The URIs we give things in EPCIS documents. We have no GS1 keys (no GLN for places, no GTIN
 * for products, no SGTIN serials), so, as the CBV says for private identifiers, they are HTTP
 * URIs under a domain the operator controls: the service's `http.publicUrl` (set it, so the
 * identifiers stay the same wherever the service listens). They name things; they are not
 * promised to resolve. The mapping is the table in README.md.
 */
export class EpcisIds {
  readonly root: string;

  /** `publicUrl` is the service's base URL, e.g. https://coldchain.example.cn */
  constructor(publicUrl: string) {
    this.root = `${publicUrl.replace(/\/+$/, '')}/epcis`;
  }

  private id(kind: string, ...parts: string[]): string {
    return `${this.root}/id/${kind}/${parts.map(encodeURIComponent).join('/')}`;
  }

  /** The JSON-LD prefix `coldchain:` of our own extension fields. */
  get vocabulary(): string {
    return `${this.root}/voc#`;
  }

  /** A place where sensors hang (cold room, vehicle compartment): the readPoint. */
  location(locationId: string): string {
    return this.id('location', locationId);
  }

  /** A warehouse site: the bizLocation (vehicles have none: goods in transit are at no business location). */
  site(siteId: string): string {
    return this.id('site', siteId);
  }

  device(deviceId: string): string {
    return this.id('device', deviceId);
  }

  /**
   * The goods' class: product and batch (the LGTIN's role), and for a count, what one instance is
   * (a case, a box): `quantity` 40 of `…/lot/<product>/<batch>/cases` is 40 cases of that batch.
   */
  lot(product: string, batch: string, countUnit?: string): string {
    return countUnit ? this.id('lot', product, batch, countUnit) : this.id('lot', product, batch);
  }

  waybill(shipmentId: string): string {
    return this.id('waybill', shipmentId);
  }

  /** Shipper and consignee by name (the waybill names them in words only). */
  party(name: string): string {
    return this.id('party', name);
  }

  /** The product profile whose range an alarm broke. */
  profile(profileId: string): string {
    return this.id('profile', profileId);
  }

  /** One event: our custody event (or the QA disposition) of one shipment; the same id in every export. */
  event(shipmentId: string, eventId: string): string {
    return this.id('event', shipmentId, eventId);
  }
}
