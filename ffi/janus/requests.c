/* requests.c — which synchronous request goes where. The Admin API's
 * message_plugin arrives here too. */
#include "hj.h"

#include <string.h>

json_t *hj_sync_request(const char *request, json_t *root)
{
    static const struct {
        const char *name;
        json_t *(*fn)(json_t *);
    } table[] = {
        {"create", hj_rooms_create},
        {"edit", hj_rooms_edit},
        {"destroy", hj_rooms_destroy},
        {"exists", hj_rooms_exists},
        {"list", hj_rooms_list},
        {"listparticipants", hj_mod_listparticipants},
        {"kick", hj_mod_kick},
        {"enable_recording", hj_mod_recording},
        {"huddle", hj_mod_huddle},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
        if (g_ascii_strcasecmp(request, table[i].name) == 0)
            return table[i].fn(root);
    if (!g_ascii_strcasecmp(request, "mute") || !g_ascii_strcasecmp(request, "unmute"))
        return hj_mod_mute(root, !g_ascii_strcasecmp(request, "mute"));
    if (!g_ascii_strcasecmp(request, "mute_room") || !g_ascii_strcasecmp(request, "unmute_room"))
        return hj_mod_mute_room(root, !g_ascii_strcasecmp(request, "mute_room"));
    if (!g_ascii_strcasecmp(request, "play_file") || !g_ascii_strcasecmp(request, "stop_file"))
        return hj_mod_play(root, !g_ascii_strcasecmp(request, "play_file"));
    return NULL;
}
