/**
 * The system share sheet (Web Share API) for invite links, where the browser has one
 * (phones, some desktops). Feature-detected; the caller keeps copy-to-clipboard as the
 * fallback. The link carries the room key in its fragment: sharing it is the same act as
 * copying it, to a destination the person picks.
 */
type ShareNavigator = Pick<Navigator, 'share'> & Partial<Pick<Navigator, 'canShare'>>

function shareNavigator(): ShareNavigator | undefined {
  return typeof navigator === 'undefined' ? undefined : (navigator as ShareNavigator)
}

/** Whether a link can go to the share sheet here. */
export function canShareLink(nav: ShareNavigator | undefined = shareNavigator()): boolean {
  if (!nav || typeof nav.share !== 'function') return false
  try {
    return typeof nav.canShare !== 'function' || nav.canShare({ url: 'https://example.invalid/' })
  } catch (err) {
    void err // a canShare that throws is a share sheet we cannot trust
    return false
  }
}

export type ShareOutcome = 'shared' | 'cancelled' | 'failed'

/** Opens the share sheet; 'cancelled' when the person closed it, 'failed' when it could not open. */
export async function shareLink(link: string, title: string, nav: ShareNavigator | undefined = shareNavigator()): Promise<ShareOutcome> {
  if (!nav || !canShareLink(nav)) return 'failed'
  try {
    await nav.share({ title: title || 'Stoop room', text: `Join “${title || 'my room'}” on Stoop`, url: link })
    return 'shared'
  } catch (err) {
    return (err as { name?: string }).name === 'AbortError' ? 'cancelled' : 'failed'
  }
}
